"""The manifest an UNLOAD writes, and the check that every file it lists is staged whole.

``MANIFEST VERBOSE`` lists each file's URL with its size (``content_length``) and row count
(``record_count``). Before anything is written to the target, every listed file must exist
under the UNLOAD's own prefix with exactly that size; while a file is read, its bytes and rows
must come to the same figures (``gzip_lines``). A file missing, short or foreign stops the day.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from qupersync_dagster.infrastructure.s3.errors import StagingError
from qupersync_dagster.infrastructure.s3.settings import StagedLocation


@dataclass(frozen=True)
class StagedFile:
    key: str
    content_length: int
    record_count: int | None  # None when the manifest does not say


@dataclass(frozen=True)
class Manifest:
    files: tuple[StagedFile, ...]

    @property
    def bytes_staged(self) -> int:
        return sum(f.content_length for f in self.files)


def _count(meta: Any, name: str, url: str, required: bool) -> int | None:
    value = meta.get(name) if isinstance(meta, dict) else None
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise StagingError(f"the UNLOAD manifest gives {url} no valid {name}")
    return value


def parse_manifest(text: bytes, location: StagedLocation) -> Manifest:
    """The files ``text`` lists, each under ``location``; anything else is refused."""
    try:
        document = json.loads(text)
        entries = document["entries"]
        assert isinstance(entries, list)
    except (ValueError, KeyError, TypeError, AssertionError):
        raise StagingError(f"the UNLOAD manifest at {location.url} is not valid") from None
    files = []
    for entry in entries:
        url = entry.get("url") if isinstance(entry, dict) else None
        if not isinstance(url, str) or not url.startswith(location.url):
            raise StagingError(f"the UNLOAD manifest lists {url!r}, outside {location.url}")
        meta = entry.get("meta")
        files.append(
            StagedFile(
                key=url.removeprefix(f"s3://{location.bucket}/"),
                content_length=_count(meta, "content_length", url, required=True) or 0,
                record_count=_count(meta, "record_count", url, required=False),
            )
        )
    return Manifest(tuple(files))


def check_staged(manifest: Manifest, listed: dict[str, int], location: StagedLocation) -> None:
    """Every listed file is staged with its manifest size; ``listed``: key -> size in S3."""
    problems = []
    for staged in manifest.files:
        size = listed.get(staged.key)
        name = staged.key.removeprefix(location.key_prefix)
        if size is None:
            problems.append(f"{name} is missing")
        elif size != staged.content_length:
            problems.append(f"{name} has {size} bytes, the manifest says {staged.content_length}")
    if problems:
        raise StagingError(
            f"the UNLOAD to {location.url} is incomplete ({len(manifest.files)} files listed): "
            f"{'; '.join(problems)}"
        )
