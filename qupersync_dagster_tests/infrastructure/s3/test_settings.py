"""S3 staging is off until a bucket is named, and a half or malformed setting is refused by name."""

from __future__ import annotations

import re

import pytest

from qupersync_dagster.domain.errors import ConfigError
from qupersync_dagster.infrastructure.redshift.connector import RedshiftSettings

ROLE = "arn:aws:iam::123456789012:role/qupersync-unload"


def _settings(**unload) -> RedshiftSettings:
    return RedshiftSettings(host="cluster", database="dev", user="reader", **unload)


def test_without_a_bucket_there_is_no_staging():
    assert _settings().staging() is None


def test_a_configured_staging_is_read_with_its_defaults():
    staging = _settings(unload_bucket="finops-staging", unload_iam_role=ROLE).staging()

    assert staging is not None
    assert (staging.bucket, staging.prefix, staging.iam_role) == (
        "finops-staging",
        "qupersync/",
        ROLE,
    )
    assert (staging.region, staging.endpoint_url, staging.readers) == (None, None, 4)


def test_each_unload_gets_a_prefix_of_its_own_under_the_table_and_day():
    staging = _settings(unload_bucket="finops-staging", unload_iam_role=ROLE, unload_prefix="/a/b")
    first, second = (staging.staging().location("cur", "2026-08-03") for _ in range(2))

    assert first != second
    assert re.fullmatch(r"a/b/cur/2026-08-03/\d{8}T\d{6}-[0-9a-f]{12}/", first.key_prefix)
    assert first.url == f"s3://finops-staging/{first.key_prefix}"
    assert first.manifest_key == f"{first.key_prefix}manifest"


@pytest.mark.parametrize(
    ("unload", "message"),
    [
        ({"unload_bucket": "finops-staging"}, "REDSHIFT_UNLOAD_IAM_ROLE must be an IAM role ARN"),
        (
            {"unload_iam_role": ROLE},
            "REDSHIFT_UNLOAD_BUCKET must be an S3 bucket name; it is empty",
        ),
        ({"unload_bucket": "Finops_Staging", "unload_iam_role": ROLE}, "REDSHIFT_UNLOAD_BUCKET"),
        ({"unload_bucket": "b-1", "unload_iam_role": "role/x'"}, "REDSHIFT_UNLOAD_IAM_ROLE"),
        (
            {"unload_bucket": "b-1", "unload_iam_role": ROLE, "unload_prefix": "a b"},
            "REDSHIFT_UNLOAD_PREFIX",
        ),
        (
            {"unload_bucket": "b-1", "unload_iam_role": ROLE, "unload_region": "eu west"},
            "REDSHIFT_UNLOAD_REGION must be an AWS region",
        ),
        (
            {"unload_bucket": "b-1", "unload_iam_role": ROLE, "unload_endpoint_url": "ftp://x"},
            "REDSHIFT_UNLOAD_ENDPOINT_URL",
        ),
        (
            {"unload_bucket": "b-1", "unload_iam_role": ROLE, "unload_readers": 0},
            "REDSHIFT_UNLOAD_READERS must be at least 1",
        ),
    ],
)
def test_an_incomplete_or_malformed_staging_is_refused_naming_its_variable(unload, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        _settings(**unload).staging()


def test_a_chain_of_roles_is_accepted():
    chain = f"{ROLE},arn:aws:iam::210987654321:role/writer"
    assert _settings(unload_bucket="b-1", unload_iam_role=chain).staging().iam_role == chain
