"""The manifest of an UNLOAD is believed only when every file it lists is staged whole."""

from __future__ import annotations

import json

import pytest

from qupersync_dagster.infrastructure.s3.errors import StagingError, unload_refused
from qupersync_dagster.infrastructure.s3.manifest import check_staged, parse_manifest
from qupersync_dagster.infrastructure.s3.settings import StagedLocation

HERE = StagedLocation("staging-bucket", "qupersync/usage/2026-08-03/attempt/")


def _manifest(*entries: dict) -> bytes:
    """A ``MANIFEST VERBOSE`` document as the Redshift reference shows it."""
    return json.dumps(
        {
            "entries": list(entries),
            "schema": {"elements": [{"name": "line", "type": {"base": "character varying"}}]},
            "meta": {"content_length": 0, "record_count": 0},
            "author": {"name": "Amazon Redshift", "version": "1.0.0"},
        }
    ).encode()


def _entry(name: str, size: int, rows: int | None = None) -> dict:
    meta = {"content_length": size} | ({} if rows is None else {"record_count": rows})
    return {"url": f"{HERE.url}{name}", "meta": meta}


def test_each_listed_file_is_read_with_its_size_and_row_count():
    manifest = parse_manifest(
        _manifest(_entry("0000_part_00.gz", 120, 7), _entry("0001_part_00.gz", 30)), HERE
    )

    assert [(f.key, f.content_length, f.record_count) for f in manifest.files] == [
        (f"{HERE.key_prefix}0000_part_00.gz", 120, 7),
        (f"{HERE.key_prefix}0001_part_00.gz", 30, None),
    ]
    assert manifest.bytes_staged == 150


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"{not json", "is not valid"),
        (b'{"files": []}', "is not valid"),
        (_manifest({"url": "s3://other-bucket/x/0000_part_00.gz"}), "outside"),
        (_manifest(_entry("0000_part_00.gz", -1)), "no valid content_length"),
        (_manifest({"url": f"{HERE.url}0000_part_00.gz"}), "no valid content_length"),
    ],
    ids=["not-json", "no-entries", "foreign-url", "negative-size", "no-size"],
)
def test_a_manifest_that_cannot_be_trusted_is_refused(text, message):
    with pytest.raises(StagingError, match=message):
        parse_manifest(text, HERE)


def test_every_missing_or_resized_file_is_named_before_anything_is_read():
    manifest = parse_manifest(
        _manifest(
            _entry("0000_part_00.gz", 100),
            _entry("0001_part_00.gz", 50),
            _entry("0002_part_00.gz", 9),
        ),
        HERE,
    )
    staged = {f"{HERE.key_prefix}0000_part_00.gz": 100, f"{HERE.key_prefix}0002_part_00.gz": 4}

    with pytest.raises(StagingError) as failure:
        check_staged(manifest, staged, HERE)

    assert str(failure.value) == (
        f"the UNLOAD to {HERE.url} is incomplete (3 files listed): 0001_part_00.gz is missing; "
        "0002_part_00.gz has 4 bytes, the manifest says 9"
    )
    assert failure.value.retryable


def test_a_complete_staging_passes():
    manifest = parse_manifest(_manifest(_entry("0000_part_00.gz", 100)), HERE)
    check_staged(manifest, {f"{HERE.key_prefix}0000_part_00.gz": 100}, HERE)


@pytest.mark.parametrize(
    ("message", "refused"),
    [
        ("S3ServiceException:Access Denied,Status 403,Error AccessDenied", True),
        (
            "S3ServiceException:The specified bucket does not exist,Status 404,Error NoSuchBucket",
            True,
        ),
        ("S3ServiceException:The bucket is in this region: eu-west-1,Status 301", True),
        ("S3ServiceException:We encountered an internal error,Status 500", False),
        ("S3ServiceException:Slow Down,Status 503,Error SlowDown", False),
        ("could not connect to S3", False),
    ],
)
def test_only_what_s3_refuses_for_good_stops_an_unload_from_being_retried(message, refused):
    assert unload_refused(message) is refused
