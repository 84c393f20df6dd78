"""Where Redshift UNLOADs large days: a bucket, a prefix, its region and the role Redshift assumes.

The settings are fields of ``RedshiftSettings`` (UNLOAD is the cluster's statement), so they
reach a run as ``REDSHIFT_UNLOAD_*`` variables like every other Redshift setting. With no bucket
configured there is no staging and every day is read by cursor. QuperSync itself reads and
deletes the staged files with the standard AWS credential chain (environment, profile, instance
or task role); no credential is a setting, so none can reach a log.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from qupersync_dagster.domain.errors import ConfigError

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PREFIX = re.compile(r"^([A-Za-z0-9_.-]+/)*$")
_ROLE = re.compile(
    r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=.@_/-]+(,arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=.@_/-]+)*$"
)
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_ENDPOINT = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d+)?/?$")


@dataclass(frozen=True)
class StagedLocation:
    """One UNLOAD's own prefix: unique per attempt, so a retry never reads another's files."""

    bucket: str
    key_prefix: str  # ends with "/"

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key_prefix}"

    @property
    def manifest_key(self) -> str:
        return f"{self.key_prefix}manifest"


@dataclass(frozen=True)
class S3Staging:
    bucket: str
    prefix: str  # "" or ending with "/"
    iam_role: str
    region: str | None
    endpoint_url: str | None
    readers: int

    def location(self, table: str, partition: str) -> StagedLocation:
        """A fresh prefix for one UNLOAD of ``table``'s ``partition``."""
        moment = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        attempt = f"{moment}-{uuid.uuid4().hex[:12]}"
        return StagedLocation(self.bucket, f"{self.prefix}{table}/{partition}/{attempt}/")


class UnloadSettings(BaseModel):
    """The S3 staging settings; each is ``REDSHIFT_`` + its name in capitals."""

    unload_bucket: str = Field(
        default="", description="S3 bucket large days are UNLOADed into; empty: cursor only."
    )
    unload_prefix: str = Field(default="qupersync/", description="Key prefix inside the bucket.")
    unload_region: str = Field(
        default="", description="The bucket's region when it is not the cluster's."
    )
    unload_iam_role: str = Field(
        default="", description="ARN of the IAM role the cluster assumes to write the bucket."
    )
    unload_endpoint_url: str = Field(
        default="", description="An S3-compatible endpoint for reading (tests); empty: AWS."
    )
    unload_readers: int = Field(default=4, description="Staged files read at once.")

    def staging(self) -> S3Staging | None:
        """The validated staging, or None when no bucket is configured."""
        if not self.unload_bucket and not self.unload_iam_role:
            return None
        _check(self.unload_bucket, _BUCKET, "unload_bucket", "an S3 bucket name")
        _check(self.unload_iam_role, _ROLE, "unload_iam_role", "an IAM role ARN")
        prefix = self.unload_prefix.strip("/")
        prefix = f"{prefix}/" if prefix else ""
        _check(prefix, _PREFIX, "unload_prefix", "letters, digits, '_', '.', '-' and '/'")
        if self.unload_region:
            _check(self.unload_region, _REGION, "unload_region", "an AWS region")
        if self.unload_endpoint_url:
            _check(self.unload_endpoint_url, _ENDPOINT, "unload_endpoint_url", "an http(s) URL")
        if self.unload_readers < 1:
            raise ConfigError("REDSHIFT_UNLOAD_READERS must be at least 1")
        return S3Staging(
            bucket=self.unload_bucket,
            prefix=prefix,
            iam_role=self.unload_iam_role,
            region=self.unload_region or None,
            endpoint_url=self.unload_endpoint_url or None,
            readers=self.unload_readers,
        )


def _check(value: str, pattern: re.Pattern[str], name: str, expected: str) -> None:
    if not pattern.fullmatch(value):
        variable = f"REDSHIFT_{name.upper()}"
        shown = f"{value!r}" if value else "empty"
        raise ConfigError(f"{variable} must be {expected}; it is {shown}")
