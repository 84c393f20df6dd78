"""Sync orchestration: extract → transform → load, one partition (one day) at a time.

Extract streams a day from the source in bounded batches; transform renders rows into the COPY
text encoding both repositories share (pushed into the source query where possible); load applies
them to the target and records the sync state in the same transaction. A day whose source
fingerprint equals the stored one is skipped, so re-running a range is cheap and idempotent. The
next day's read starts once the source is done with the current one (``read_ahead``), while the
target still copies and commits; with more than one source connection the days are dealt to
lanes that run at once (``lanes``). Each day is still its own transaction.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime
from functools import partial, reduce

from qupersync_dagster.domain.entities import (
    Extraction,
    LoadCounts,
    PartitionOutcome,
    PartitionWindow,
    SourceFingerprint,
    SyncMode,
    SyncResult,
    SyncWatermark,
    TableSchema,
    TableSpec,
    WindowRead,
)
from qupersync_dagster.domain.repositories import PartitionLoad, SourceRepository, TargetRepository
from qupersync_dagster.domain.services import extract_choice
from qupersync_dagster.domain.services.lanes import deal, run_lanes
from qupersync_dagster.domain.services.read_ahead import Counted, ReadAhead
from qupersync_dagster.domain.services.schema_validation import SchemaPlan, preflight
from qupersync_dagster.domain.services.watermark import (
    changed_since,
    fingerprint_for,
    is_unchanged,
)


@contextmanager
def _staged() -> Iterator[list[Counted]]:
    """The day's reads; what they staged is discarded once the day's transaction has ended."""
    reads: list[Counted] = []
    try:
        yield reads
    finally:
        for read in reads:
            read.discard()


def _extraction(reads: list[Counted]) -> Extraction | None:
    """How the day was read: one read, or an incremental read and then the whole day."""
    if not reads:
        return None
    return reduce(Extraction.then, (read.extraction for read in reads))


def _add(a: LoadCounts, b: LoadCounts) -> LoadCounts:
    return LoadCounts(
        a.inserted + b.inserted,
        a.updated + b.updated,
        a.deleted + b.deleted,
        a.duplicates_dropped + b.duplicates_dropped,
    )


class SyncService:
    def __init__(
        self,
        source: SourceRepository,
        target: TargetRepository,
        *,
        more_sources: Sequence[SourceRepository] = (),
        prefetch_depth: int = 4,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        """``more_sources``: further connections to the same source, each reading days of its
        own at the same time as ``source`` (see ``lanes``); the target takes a day per lane."""
        self.source = source
        self.sources = (source, *more_sources)
        self.target = target
        self.prefetch_depth = prefetch_depth
        self.clock = clock

    def check_schema(self, spec: TableSpec) -> tuple[TableSchema, SchemaPlan]:
        """Pre-flight against the live schemas; writes nothing."""
        return preflight(self.source, self.target, spec)

    def apply_plan(self, spec: TableSpec, source_schema: TableSchema, plan: SchemaPlan) -> None:
        """Create or evolve the target table as planned; refuses a plan with differences."""
        plan.raise_for(spec.name)
        if plan.create:
            self.target.create_table(spec, source_schema)
        elif plan.added or plan.widened:
            self.target.evolve_table(spec, plan.added, plan.widened)

    def prepare(self, spec: TableSpec) -> TableSchema:
        """Validate, then create or evolve the target table; raises before any write on error."""
        source_schema, plan = self.check_schema(spec)
        self.apply_plan(spec, source_schema, plan)
        return source_schema

    def sync(
        self,
        spec: TableSpec,
        start: date,
        end: date,
        *,
        force: bool = False,
        on_result: Callable[[SyncResult], None] | None = None,
        schema: TableSchema | None = None,
    ) -> list[SyncResult]:
        """Sync every day in ``[start, end)``; days whose source is unchanged are skipped.

        ``schema`` is the source schema when the caller already ran pre-flight (``prepare``).
        """
        schema = schema or self.prepare(spec)
        found = self.source.fingerprints(spec, schema, start, end)
        stored = self.target.stored_states(spec.name)
        signature = schema.signature()
        results: dict[str, SyncResult] = {}
        emitting = threading.Lock()

        def emit(result: SyncResult) -> None:
            with emitting:
                results[result.partition] = result
                if on_result is not None:
                    on_result(result)

        due = []
        for day in PartitionWindow(start, end).days():
            window = PartitionWindow.day(day)
            fingerprint = fingerprint_for(found.get(day), signature)
            if force or not is_unchanged(stored.get(window.key), fingerprint):
                due.append((window, fingerprint))
            else:
                emit(
                    SyncResult(
                        spec.name,
                        window.key,
                        PartitionOutcome.UNCHANGED,
                        fingerprint=fingerprint,
                        watermark=stored[window.key].watermark,
                    )
                )
        run_lanes(
            [
                partial(self._sync_lane, source, spec, schema, days, stored, force, emit)
                for source, days in zip(self.sources, deal(due, len(self.sources)), strict=False)
            ]
        )
        return [results[key] for key in sorted(results)]

    def _sync_lane(
        self,
        source: SourceRepository,
        spec: TableSpec,
        schema: TableSchema,
        days: list[tuple[PartitionWindow, SourceFingerprint]],
        stored: dict[str, SyncWatermark],
        force: bool,
        emit: Callable[[SyncResult], None],
        stopped: Callable[[], bool],
    ) -> None:
        """Sync ``days`` in order over ``source``, each read started ahead of its day."""
        planned = [
            self._read(source, spec, schema, window, stored.get(window.key), fingerprint, force)
            for window, fingerprint in days
        ]
        reads = ReadAhead(source.extract, self.prefetch_depth, planned)
        try:
            for window, fingerprint in days:
                if stopped():
                    return
                emit(self._sync_partition(source, reads, spec, schema, window, fingerprint, force))
        finally:
            reads.close()

    def _read(
        self,
        source: SourceRepository,
        spec: TableSpec,
        schema: TableSchema,
        window: PartitionWindow,
        stored: SyncWatermark | None,
        fingerprint: SourceFingerprint,
        force: bool,
    ) -> WindowRead:
        """The read a partition needs, given its stored state: incremental where it can be."""
        since = None if force else changed_since(spec, stored, fingerprint)
        choice = extract_choice.choose(spec, schema, fingerprint, source.staging())
        return WindowRead(spec, schema, window, since, fingerprint.row_count, choice)

    def _sync_partition(
        self,
        source: SourceRepository,
        reads: ReadAhead,
        spec: TableSpec,
        schema: TableSchema,
        window: PartitionWindow,
        fingerprint: SourceFingerprint,
        force: bool,
    ) -> SyncResult:
        started = time.perf_counter()
        with _staged() as staged, self.target.partition(spec, window, schema.names) as load:
            stored = load.stored_state()
            if not force and is_unchanged(stored, fingerprint):
                # Another run synced this partition while we waited for its lock.
                reads.drop_ahead()
                return SyncResult(
                    spec.name,
                    window.key,
                    PartitionOutcome.UNCHANGED,
                    fingerprint=fingerprint,
                    watermark=stored.watermark,
                    waited_for_lock=load.waited_for_lock,
                )
            read = self._read(source, spec, schema, window, stored, fingerprint, force)
            extracted, counts, full_window = self._load(reads, load, read, staged)
            mirrored = load.fingerprint()
            load.commit(
                SyncWatermark(
                    table=spec.name,
                    partition=window.key,
                    fingerprint=fingerprint,
                    watermark=fingerprint.max_watermark,
                    rows_extracted=extracted,
                    rows_inserted=counts.inserted,
                    rows_updated=counts.updated,
                    rows_deleted=counts.deleted,
                    finished_at=self.clock(),
                )
            )
        return SyncResult(
            spec.name,
            window.key,
            PartitionOutcome.SYNCED,
            rows_extracted=extracted,
            counts=counts,
            fingerprint=fingerprint,
            watermark=fingerprint.max_watermark,
            seconds=time.perf_counter() - started,
            waited_for_lock=load.waited_for_lock,
            full_window=full_window,
            extraction=_extraction(staged),
            mirrored=mirrored,
        )

    def _load(
        self, reads: ReadAhead, load: PartitionLoad, read: WindowRead, staged: list[Counted]
    ) -> tuple[int, LoadCounts, bool]:
        """Apply the partition's rows; returns (rows extracted, counts, read the whole window)."""
        # Closed however the load ends, even before it took a batch, so its worker stops.
        stream = reads.open(read)
        staged.append(stream)
        with closing(stream):
            if read.spec.mode is SyncMode.REPLACE:
                counts = load.replace(iter(stream))
                return stream.rows, counts, True
            counts = load.upsert(iter(stream), full_window=read.changed_since is None)
        if read.changed_since is None:
            return stream.rows, counts, True
        # Incremental reads cannot see rows deleted at the source; a count that disagrees with
        # the fingerprint means some were, so reconcile the whole window in this transaction.
        if load.count_rows() == read.expected_rows:
            return stream.rows, counts, False
        full = reads.open(replace(read, changed_since=None))
        staged.append(full)
        with closing(full):
            counts = _add(counts, load.upsert(iter(full), full_window=True))
        return stream.rows + full.rows, counts, True
