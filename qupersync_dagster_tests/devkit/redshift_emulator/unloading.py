"""UNLOAD statements for the tests, and the files an UNLOAD left in the local S3, read back."""

from __future__ import annotations

import bz2
import gzip
import json
from typing import Any

import zstandard

from qupersync_dagster.devkit.local_s3 import S3Bucket

ROLE = "arn:aws:iam::123456789012:role/QuperSyncUnload"
_DECOMPRESS = {
    ".gz": gzip.decompress,
    ".bz2": bz2.decompress,
    ".zst": lambda data: zstandard.ZstdDecompressor().decompressobj().decompress(data),
}


def unload(query: str, url: str, *options: str, authorization: str = f"IAM_ROLE '{ROLE}'") -> str:
    """An UNLOAD of ``query`` to ``url``: quotes in the query doubled, as Redshift requires."""
    quoted = query.replace("\\", "\\\\").replace("'", "''")
    return " ".join([f"UNLOAD ('{quoted}') TO '{url}'", authorization, *options])


def objects(s3: S3Bucket, prefix: str = "") -> dict[str, int]:
    """Every object under ``prefix``: its key and size."""
    listed = s3.client().list_objects_v2(Bucket=s3.bucket, Prefix=prefix)
    return {item["Key"]: item["Size"] for item in listed.get("Contents", [])}


def content(s3: S3Bucket, key: str) -> bytes:
    """An object's bytes, decompressed as its suffix says."""
    body = s3.client().get_object(Bucket=s3.bucket, Key=key)["Body"].read()
    for suffix, decompress in _DECOMPRESS.items():
        if key.endswith(suffix):
            return decompress(body)
    return body


def manifest(s3: S3Bucket, prefix: str) -> dict[str, Any]:
    return json.loads(content(s3, f"{prefix}manifest"))


def data_keys(s3: S3Bucket, prefix: str) -> list[str]:
    return sorted(key for key in objects(s3, prefix) if not key.endswith("manifest"))


def lines(s3: S3Bucket, prefix: str) -> list[bytes]:
    """Every line of every data file under ``prefix``, in key order."""
    return [line for key in data_keys(s3, prefix) for line in content(s3, key).splitlines()]
