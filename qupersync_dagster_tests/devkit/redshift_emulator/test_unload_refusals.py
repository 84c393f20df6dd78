"""An UNLOAD Redshift refuses is refused, with its error, and writes nothing."""

from __future__ import annotations

import pytest
import redshift_connector

from qupersync_dagster.devkit.redshift_emulator import RedshiftWireEmulator
from qupersync_dagster_tests.devkit.redshift_emulator.driver import scalar, server_message
from qupersync_dagster_tests.devkit.redshift_emulator.unloading import ROLE, objects, unload

pytestmark = pytest.mark.integration

QUERY = "SELECT 1 AS one"

REFUSED = {
    "no authorization": (unload(QUERY, "s3://{bucket}/r/", authorization=""), "authorization"),
    "not an S3 URL": (unload(QUERY, "https://{bucket}/r/"), "Invalid S3 path"),
    "no bucket": (unload(QUERY, "s3:///r/"), "Invalid S3 path"),
    "a malformed role": (
        unload(QUERY, "s3://{bucket}/r/", authorization="IAM_ROLE 'MyRole'"),
        "Invalid IAM role ARN",
    ),
    "a role with keys": (
        unload(QUERY, "s3://{bucket}/r/", "ACCESS_KEY_ID 'a' SECRET_ACCESS_KEY 'b'"),
        "IAM_ROLE can't be used with",
    ),
    "one key alone": (
        unload(QUERY, "s3://{bucket}/r/", authorization="ACCESS_KEY_ID 'a'"),
        "go together",
    ),
    "a LIMIT in the outer select": (
        unload("SELECT g FROM generate_series(1, 5) AS g LIMIT 2", "s3://{bucket}/r/"),
        "LIMIT in the outer SELECT",
    ),
    "ALLOWOVERWRITE with CLEANPATH": (
        unload(QUERY, "s3://{bucket}/r/", "ALLOWOVERWRITE CLEANPATH"),
        "CLEANPATH",
    ),
    "two compressions": (unload(QUERY, "s3://{bucket}/r/", "GZIP ZSTD"), "compression"),
    "a repeated option": (unload(QUERY, "s3://{bucket}/r/", "GZIP GZIP"), "redundant"),
    "VERBOSE alone": (unload(QUERY, "s3://{bucket}/r/", "VERBOSE"), "VERBOSE"),
    "a tiny MAXFILESIZE": (
        unload(QUERY, "s3://{bucket}/r/", "MAXFILESIZE 1 MB"),
        "between 5 MB and 6.2 GB",
    ),
    "a long delimiter": (unload(QUERY, "s3://{bucket}/r/", "DELIMITER '||'"), "single ASCII"),
    "an unknown option": (unload(QUERY, "s3://{bucket}/r/", "OVERWRITE"), "syntax error"),
    "a statement other than SELECT": (
        unload("DELETE FROM pg_class", "s3://{bucket}/r/"),
        "SELECT statement",
    ),
    "a construct Redshift lacks": (
        unload("SELECT string_agg(relname, ',') FROM pg_class", "s3://{bucket}/r/"),
        "function string_agg()",
    ),
    "a format the emulator does not write": (
        unload(QUERY, "s3://{bucket}/r/", "FORMAT AS PARQUET"),
        "not emulated",
    ),
    "an unterminated query": ("UNLOAD ('SELECT 1) TO 's3://{bucket}/r/'", "syntax error"),
}


@pytest.mark.parametrize(("statement", "message"), REFUSED.values(), ids=list(REFUSED))
def test_a_form_redshift_refuses_raises_and_writes_nothing(
    redshift, unload_emulator, local_s3, source_db, statement, message
) -> None:
    conn = redshift(unload_emulator)
    with pytest.raises(redshift_connector.ProgrammingError) as refused:
        conn.cursor().execute(statement.replace("{bucket}", local_s3.bucket))

    assert message in server_message(refused.value)
    assert objects(local_s3) == {}
    conn.rollback()
    assert scalar(conn, "SELECT 1") == 1


@pytest.mark.parametrize(
    "authorization",
    [
        f"IAM_ROLE '{ROLE}'",
        "IAM_ROLE default",
        "ACCESS_KEY_ID 'a' SECRET_ACCESS_KEY 'b' SESSION_TOKEN 'c'",
        "CREDENTIALS 'aws_iam_role=arn:aws:iam::123456789012:role/R'",
    ],
)
def test_each_form_of_authorization_is_accepted(
    redshift, unload_emulator, local_s3, source_db, authorization
) -> None:
    conn = redshift(unload_emulator)
    conn.cursor().execute(unload(QUERY, local_s3.url("a/"), authorization=authorization))

    assert len(objects(local_s3, "a/")) == 2


def test_a_missing_bucket_fails_as_s3_does(redshift, unload_emulator, source_db) -> None:
    conn = redshift(unload_emulator)
    with pytest.raises(redshift_connector.ProgrammingError) as refused:
        conn.cursor().execute(unload(QUERY, "s3://no-such-bucket-here/r/"))

    assert "NoSuchBucket" in server_message(refused.value)


def test_an_emulator_without_s3_refuses_unload(redshift, pg_server, source_db) -> None:
    with RedshiftWireEmulator(pg_server) as emulator:
        conn = redshift(emulator)
        with pytest.raises(redshift_connector.ProgrammingError) as refused:
            conn.cursor().execute(unload(QUERY, "s3://bucket/r/"))

    assert "no S3 endpoint" in server_message(refused.value)
