"""Sync state rules: when a partition can be skipped and from where an incremental read starts."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from typing import TypeGuard

from qupersync_dagster.domain.entities import SourceFingerprint, SyncWatermark, TableSpec

# fromisoformat also reads basic-format dates, so an integer watermark like 20260310 must be
# told apart before a lookback is applied to it.
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def fingerprint_for(found: SourceFingerprint | None, schema_signature: str) -> SourceFingerprint:
    """The partition's fingerprint, an empty one for a day without rows, tied to the schema."""
    return replace(found or SourceFingerprint(row_count=0), schema_signature=schema_signature)


def is_unchanged(
    stored: SyncWatermark | None, fingerprint: SourceFingerprint
) -> TypeGuard[SyncWatermark]:
    return stored is not None and stored.fingerprint == fingerprint


def changed_since(
    spec: TableSpec, stored: SyncWatermark | None, fingerprint: SourceFingerprint
) -> str | None:
    """Where an incremental upsert reads from, or None when the whole window must be read.

    The whole window is read when there is no watermark column, no earlier sync of the
    partition, or the schema changed since (new columns need back-filling).
    """
    if not spec.watermark_column or stored is None or stored.watermark is None:
        return None
    if stored.fingerprint.schema_signature != fingerprint.schema_signature:
        return None
    if not spec.lookback:
        return stored.watermark
    if not _ISO_DATE.match(stored.watermark):
        return None  # an integer watermark: a lookback cannot be applied, so read everything
    try:
        moment = datetime.fromisoformat(stored.watermark)
    except ValueError:
        return None  # not a timestamp: a lookback cannot be applied, so read everything
    return (moment - spec.lookback).isoformat(sep=" ")
