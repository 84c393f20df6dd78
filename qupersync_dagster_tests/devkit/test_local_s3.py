"""The local S3 answers boto3 on a loopback port, with its dummy keys in the test's environment."""

from __future__ import annotations

import boto3
import pytest

pytestmark = pytest.mark.integration


def test_a_client_from_the_environment_reads_what_the_endpoint_client_wrote(local_s3) -> None:
    local_s3.client().put_object(Bucket=local_s3.bucket, Key="k", Body=b"value")

    from_env = boto3.client("s3", endpoint_url=local_s3.endpoint_url)

    assert from_env.get_object(Bucket=local_s3.bucket, Key="k")["Body"].read() == b"value"
    assert local_s3.endpoint_url.startswith("http://127.0.0.1:")
    assert local_s3.url("a/b") == f"s3://{local_s3.bucket}/a/b"


def test_a_bucket_lives_in_the_region_it_was_made_in(local_s3_server) -> None:
    bucket = local_s3_server.create_bucket(region="eu-west-1")

    location = local_s3_server.endpoint.client().get_bucket_location(Bucket=bucket)

    assert location["LocationConstraint"] == "eu-west-1"
