"""What each day's materialisation records, and what the whole run's range adds up to.

A single-run backfill materialises N days in one step. Dagster records one materialisation per
day; metadata returned with the step's result is copied onto every one of them, so only what is
the same for every day (the column schema, the lineage) goes there. Each day's own row count,
counts, outcome and fingerprint are attached to that day alone, so a day's history and the
per-partition plots read true, and the size of a day's metadata does not grow with the range.
The range's totals go to the run's log.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from qupersync_dagster.domain.entities import PartitionOutcome, SourceFingerprint, SyncResult

ROW_COUNT = "dagster/row_count"
PARTITION_ROW_COUNT = "dagster/partition_row_count"


def preview_markdown(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    """A markdown table of the rows, values as the target holds them (not re-read as numbers)."""
    from tabulate import tabulate  # only when a run shows rows, not when definitions load

    return tabulate(rows, headers=columns, tablefmt="pipe", disable_numparse=True)


def day_metadata(
    result: SyncResult, mirrored: SourceFingerprint | None, preview: str | None = None
) -> dict[str, Any]:
    """The day's own metadata: the target's rows of that day, what the sync did to them.

    ``mirrored`` is the target's fingerprint of the day after the sync (None: no rows);
    ``preview`` a few of the day's rows, shown for the days the run rewrote. A day that was
    read says how (cursor or UNLOAD, and why) and what UNLOAD staged in S3.
    """
    rows = mirrored.row_count if mirrored else 0
    fingerprint = result.fingerprint
    metadata: dict[str, Any] = {
        ROW_COUNT: rows,
        PARTITION_ROW_COUNT: rows,
        "outcome": result.outcome.value,
        "rows_extracted": result.rows_extracted,
        "rows_inserted": result.counts.inserted,
        "rows_updated": result.counts.updated,
        "rows_deleted": result.counts.deleted,
        "duplicate_keys_dropped": result.counts.duplicates_dropped,
        "waited_for_lock": result.waited_for_lock,
        "duration_s": round(result.seconds, 3),
        "watermark": result.watermark,
        "fingerprint": dg.MetadataValue.json(
            {
                "row_count": fingerprint.row_count,
                "measure_sum": fingerprint.measure_sum,
                "max_watermark": fingerprint.max_watermark,
            }
            if fingerprint is not None
            else {}
        ),
    }
    if result.extraction is not None:
        metadata |= {
            "extract_method": result.extraction.method.value,
            "extract_reason": result.extraction.reason,
            "bytes_staged": result.extraction.bytes_staged,
            "files_staged": result.extraction.files,
        }
    if preview is not None:
        metadata["preview"] = dg.MetadataValue.md(preview)
    return metadata


def range_totals(results: list[SyncResult], sync_seconds: float, seconds: float) -> dict[str, Any]:
    """What the whole run did, for its log: totals over the synced days, days per outcome.

    ``sync_seconds`` is the sync's own time, the engine's from opening the connections to the
    last day's commit (pre-flight, the source's fingerprints, the stored states and every day's
    read and load; the days overlap, so it is not the sum of their ``duration_s``);
    ``seconds`` the step's work around it too: the reads for the days' metadata afterwards.
    """
    synced = [r for r in results if r.outcome is PartitionOutcome.SYNCED]
    extracted = sum(r.rows_extracted for r in synced)
    return {
        "first": results[0].partition if results else None,
        "last": results[-1].partition if results else None,
        "partitions_synced": len(synced),
        "partitions_unchanged": len(results) - len(synced),
        "partitions_waited_for_lock": sum(r.waited_for_lock for r in results),
        "rows_extracted": extracted,
        "rows_inserted": sum(r.counts.inserted for r in synced),
        "rows_updated": sum(r.counts.updated for r in synced),
        "rows_deleted": sum(r.counts.deleted for r in synced),
        "duplicate_keys_dropped": sum(r.counts.duplicates_dropped for r in synced),
        "sync_s": round(sync_seconds, 3),
        "duration_s": round(seconds, 3),
        "rows_per_second": round(extracted / sync_seconds, 1) if sync_seconds > 0 else 0.0,
    }
