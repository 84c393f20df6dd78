"""Sync state rules: when a partition can be skipped and from where an incremental read starts."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from qupersync_dagster.domain.entities import SourceFingerprint, SyncWatermark, TableSpec


def fingerprint_for(found: SourceFingerprint | None, schema_signature: str) -> SourceFingerprint:
    """The partition's fingerprint, an empty one for a day without rows, tied to the schema."""
    return replace(found or SourceFingerprint(row_count=0), schema_signature=schema_signature)


def is_unchanged(stored: SyncWatermark | None, fingerprint: SourceFingerprint) -> bool:
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
    try:
        moment = datetime.fromisoformat(stored.watermark)
    except ValueError:
        return None  # not a timestamp: a lookback cannot be applied, so read everything
    return (moment - spec.lookback).isoformat(sep=" ")
