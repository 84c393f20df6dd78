"""What can go wrong with staged files, in the words a retry decision needs.

Staged files that are missing, short, cut off mid-download or not what the manifest says make
the day fail before its transaction commits; another attempt UNLOADs afresh into a new prefix,
so it is retryable. S3 refusing QuperSync's credentials or naming no such bucket is not.
"""

from __future__ import annotations

import re

from qupersync_dagster.domain.errors import ConfigError, SourceUnavailableError

# S3 error codes no retry can fix: the deployment's credentials, role or bucket are wrong.
_CONFIGURATION_CODES = {
    "AccessDenied",
    "AllAccessDisabled",
    "InvalidAccessKeyId",
    "NoSuchBucket",
    "SignatureDoesNotMatch",
}


# How Redshift reports S3 refusing an UNLOAD for good: forbidden (the role), no such bucket or a
# bucket in another region (``S3ServiceException:<message>,Status 403``).
_UNLOAD_REFUSED = re.compile(r"S3ServiceException:.*Status (301|403|404)\b")


def unload_refused(message: str) -> bool:
    """Whether the cluster's message says S3 refused the UNLOAD in a way no retry changes."""
    return bool(_UNLOAD_REFUSED.search(message))


class StagingError(SourceUnavailableError):
    """The staged files cannot be read as the manifest lists them; nothing was written."""


def s3_error(error: Exception, what: str) -> Exception:
    """``error`` from boto3 as a QuperSync error; its text names no credential."""
    response = getattr(error, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    if code in _CONFIGURATION_CODES:
        return ConfigError(f"{what}: S3 refused ({code}); check the bucket and its permissions")
    if type(error).__name__ in ("NoCredentialsError", "PartialCredentialsError"):
        return ConfigError(f"{what}: no AWS credentials found in the standard credential chain")
    detail = code or type(error).__name__
    return StagingError(f"{what}: S3 failed ({detail}); nothing was written")
