"""The staging bucket through boto3: the manifest, the files, and their deletion.

boto3 finds credentials along the standard AWS chain (environment, shared profile, container or
instance role); QuperSync never handles or logs them. ``unload_endpoint_url`` points the client
at an S3-compatible store instead of AWS (the dev kit's local S3 in tests and the benchmark).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from qupersync_dagster.infrastructure.s3.errors import StagingError, s3_error
from qupersync_dagster.infrastructure.s3.manifest import Manifest, check_staged, parse_manifest
from qupersync_dagster.infrastructure.s3.settings import S3Staging, StagedLocation

log = logging.getLogger(__name__)

CHUNK_BYTES = 256 * 1024  # read from a download at a time
_DELETE_BATCH = 1000  # S3's limit per DeleteObjects request
_DELETE_ATTEMPTS = 2
# Bounded waits: a stalled download fails retryably instead of hanging the run.
_CLIENT_CONFIG = {
    "connect_timeout": 10,
    "read_timeout": 60,
    "retries": {"max_attempts": 5, "mode": "standard"},
}


class StagingStore:
    """One staging bucket; the client is made on first use and shared by the reader threads."""

    def __init__(self, staging: S3Staging):
        self.staging = staging
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            # boto3 is imported here, not with the module: a code location that never stages
            # an UNLOAD does not pay for it when its definitions load.
            import boto3
            from botocore.config import Config

            # An S3-compatible store on a host of its own serves buckets by path, not by name.
            style = {"s3": {"addressing_style": "path"}} if self.staging.endpoint_url else {}
            self._client = boto3.session.Session().client(
                "s3",
                region_name=self.staging.region,
                endpoint_url=self.staging.endpoint_url,
                config=Config(**_CLIENT_CONFIG, **style),
            )
        return self._client

    def location(self, table: str, partition: str) -> StagedLocation:
        return self.staging.location(table, partition)

    def manifest(self, location: StagedLocation) -> Manifest:
        """The UNLOAD's manifest, once every file it lists is staged with its size."""
        what = f"the UNLOAD manifest at {location.url}"
        try:
            body = self.client.get_object(Bucket=location.bucket, Key=location.manifest_key)
            text = body["Body"].read()
        except Exception as error:  # noqa: BLE001 - every S3 failure is described, none passes
            if _code(error) in ("NoSuchKey", "404"):
                raise StagingError(f"{what} is missing: the UNLOAD did not finish") from None
            raise s3_error(error, what) from error
        manifest = parse_manifest(text, location)
        check_staged(manifest, self.sizes(location), location)
        return manifest

    def sizes(self, location: StagedLocation) -> dict[str, int]:
        """Every object under the location's prefix, by key, with its size."""
        try:
            return {item["Key"]: item["Size"] for item in self._objects(location.key_prefix)}
        except Exception as error:  # noqa: BLE001
            raise s3_error(error, f"listing {location.url}") from error

    def _objects(self, prefix: str) -> Iterator[dict[str, Any]]:
        pages = self.client.get_paginator("list_objects_v2")
        for page in pages.paginate(Bucket=self.staging.bucket, Prefix=prefix):
            yield from page.get("Contents", [])

    def chunks(self, key: str) -> Iterator[bytes]:
        """A staged file's bytes as they download, a chunk at a time."""
        what = f"reading s3://{self.staging.bucket}/{key}"
        try:
            body = self.client.get_object(Bucket=self.staging.bucket, Key=key)["Body"]
        except Exception as error:  # noqa: BLE001
            raise s3_error(error, what) from error
        try:
            while chunk := body.read(CHUNK_BYTES):
                yield chunk
        except Exception as error:  # noqa: BLE001 - a cut download, however botocore words it
            raise s3_error(error, what) from error
        finally:
            body.close()

    def delete(self, location: StagedLocation) -> None:
        """Delete everything under the location's prefix; never raises.

        Tried again once: it runs right after a failure, whose cause (a cut connection) may
        still be in the client's pool.
        """
        for attempt in range(_DELETE_ATTEMPTS):
            try:
                keys = [item["Key"] for item in self._objects(location.key_prefix)]
                for start in range(0, len(keys), _DELETE_BATCH):
                    batch = [{"Key": key} for key in keys[start : start + _DELETE_BATCH]]
                    self.client.delete_objects(
                        Bucket=location.bucket, Delete={"Objects": batch, "Quiet": True}
                    )
                log.debug("deleted %d staged objects under %s", len(keys), location.url)
                return
            except Exception as error:  # noqa: BLE001 - the lifecycle rule is the backstop
                if attempt + 1 == _DELETE_ATTEMPTS:
                    log.warning(
                        "could not delete the staged files under %s (%s); the bucket's "
                        "lifecycle rule removes them",
                        location.url,
                        type(error).__name__,
                    )

    def probe(self) -> int:
        """Read access to the bucket under the prefix: the number of keys seen (at most 1)."""
        try:
            self.client.head_bucket(Bucket=self.staging.bucket)
            listed = self.client.list_objects_v2(
                Bucket=self.staging.bucket, Prefix=self.staging.prefix, MaxKeys=1
            )
        except Exception as error:  # noqa: BLE001
            raise s3_error(error, f"s3://{self.staging.bucket}/{self.staging.prefix}") from error
        return int(listed.get("KeyCount", 0))


def _code(error: Exception) -> str | None:
    response = getattr(error, "response", None)
    return response.get("Error", {}).get("Code") if isinstance(response, dict) else None
