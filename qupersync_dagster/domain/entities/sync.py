"""The state of a sync: which rows a partition covers, what the source looked like, what happened.

A partition is one day of the table's partition column, half-open ``[start, end)``. Its
fingerprint is cheap to compute on the source with one grouped query and changes whenever AWS
re-delivers the day, which is how unchanged days are skipped and restated days found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from qupersync_dagster.domain.entities.extraction import Extraction


@dataclass(frozen=True)
class PartitionWindow:
    start: date
    end: date  # exclusive

    @classmethod
    def day(cls, day: date) -> PartitionWindow:
        return cls(day, day + timedelta(days=1))

    @property
    def key(self) -> str:
        return self.start.isoformat()

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days)]

    @classmethod
    def covering(cls, days: list[date]) -> list[PartitionWindow]:
        """The fewest windows that hold exactly ``days``: one per run of consecutive days."""
        windows: list[PartitionWindow] = []
        for day in sorted(set(days)):
            if windows and windows[-1].end == day:
                windows[-1] = cls(windows[-1].start, day + timedelta(days=1))
            else:
                windows.append(cls.day(day))
        return windows


@dataclass(frozen=True)
class SourceFingerprint:
    """Row count, exact measure sum (decimal text) and max watermark of a partition, per schema."""

    row_count: int
    measure_sum: str | None = None
    max_watermark: str | None = None
    schema_signature: str = ""


@dataclass(frozen=True)
class SyncWatermark:
    """What the target knows about a partition it has synced (the stored sync state)."""

    table: str
    partition: str
    fingerprint: SourceFingerprint
    watermark: str | None
    rows_extracted: int
    rows_inserted: int
    rows_updated: int
    rows_deleted: int
    finished_at: datetime


@dataclass(frozen=True)
class RowBatch:
    """Rows in PostgreSQL COPY text format: one line per row, tab-separated, ``\\N`` for NULL."""

    data: bytes
    rows: int


@dataclass(frozen=True)
class LoadCounts:
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    duplicates_dropped: int = 0


class PartitionOutcome(StrEnum):
    SYNCED = "synced"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class SyncResult:
    table: str
    partition: str
    outcome: PartitionOutcome
    rows_extracted: int = 0
    counts: LoadCounts = LoadCounts()
    fingerprint: SourceFingerprint | None = None
    watermark: str | None = None
    seconds: float = 0.0
    waited_for_lock: bool = False
    full_window: bool = True
    extraction: Extraction | None = None  # how the day was read; None when it was not
    # The target's rows of the day as the sync committed them (row count and measure sum, as
    # ``TargetReadModel.fingerprints`` reads them), taken inside the day's own transaction just
    # before its commit; None when this sync did not rewrite the day.
    mirrored: SourceFingerprint | None = None
