"""Sync orchestration: extract → transform → load, one partition (one day) at a time.

Extract streams a day from the source in bounded batches; transform renders rows into the COPY
text encoding both repositories share (pushed into the source query where possible); load applies
them to the target and records the sync state in the same transaction. A day whose source
fingerprint equals the stored one is skipped, so re-running a range is cheap and idempotent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, date, datetime
from functools import reduce

from qupersync_dagster.domain.entities import (
    Extraction,
    LoadCounts,
    PartitionOutcome,
    PartitionWindow,
    RowBatch,
    SourceFingerprint,
    SyncMode,
    SyncResult,
    SyncWatermark,
    TableSchema,
    TableSpec,
    WindowRead,
)
from qupersync_dagster.domain.repositories import (
    Extract,
    PartitionLoad,
    SourceRepository,
    TargetRepository,
)
from qupersync_dagster.domain.services import extract_choice
from qupersync_dagster.domain.services.pipeline import prefetch
from qupersync_dagster.domain.services.schema_validation import SchemaPlan, preflight
from qupersync_dagster.domain.services.watermark import (
    changed_since,
    fingerprint_for,
    is_unchanged,
)


class _Counted:
    """Counts the rows of the batches flowing through it."""

    def __init__(self, batches: Generator[RowBatch, None, None]):
        self._batches = batches
        self.rows = 0

    def __iter__(self) -> Generator[RowBatch, None, None]:
        with closing(self._batches):
            for batch in self._batches:
                self.rows += batch.rows
                yield batch


@contextmanager
def _staged() -> Iterator[list[Extract]]:
    """The day's reads; what they staged is discarded once the day's transaction has ended."""
    extracts: list[Extract] = []
    try:
        yield extracts
    finally:
        for extract in extracts:
            extract.discard()


def _extraction(extracts: list[Extract]) -> Extraction | None:
    """How the day was read: one read, or an incremental read and then the whole day."""
    if not extracts:
        return None
    return reduce(Extraction.then, (extract.extraction for extract in extracts))


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
        prefetch_depth: int = 4,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.source = source
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
        results = []
        for day in PartitionWindow(start, end).days():
            window = PartitionWindow.day(day)
            fingerprint = fingerprint_for(found.get(day), signature)
            if not force and is_unchanged(stored.get(window.key), fingerprint):
                result = SyncResult(
                    spec.name,
                    window.key,
                    PartitionOutcome.UNCHANGED,
                    fingerprint=fingerprint,
                    watermark=stored[window.key].watermark,
                )
            else:
                result = self._sync_partition(spec, schema, window, fingerprint, force)
            results.append(result)
            if on_result is not None:
                on_result(result)
        return results

    def _stream(
        self,
        spec: TableSpec,
        schema: TableSchema,
        window: PartitionWindow,
        since: str | None,
        fingerprint: SourceFingerprint,
        staged: list[Extract],
    ) -> _Counted:
        choice = extract_choice.choose(spec, schema, fingerprint, self.source.staging())
        extract = self.source.extract(
            WindowRead(spec, schema, window, since, fingerprint.row_count, choice)
        )
        staged.append(extract)
        return _Counted(prefetch(extract.batches, self.prefetch_depth))

    def _sync_partition(
        self,
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
                return SyncResult(
                    spec.name,
                    window.key,
                    PartitionOutcome.UNCHANGED,
                    fingerprint=fingerprint,
                    watermark=stored.watermark,
                    waited_for_lock=load.waited_for_lock,
                )
            since = None if force else changed_since(spec, stored, fingerprint)
            extracted, counts, full_window = self._load(
                load, spec, schema, window, since, fingerprint, staged
            )
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
        )

    def _load(
        self,
        load: PartitionLoad,
        spec: TableSpec,
        schema: TableSchema,
        window: PartitionWindow,
        since: str | None,
        fingerprint: SourceFingerprint,
        staged: list[Extract],
    ) -> tuple[int, LoadCounts, bool]:
        """Apply the partition's rows; returns (rows extracted, counts, read the whole window)."""
        stream = self._stream(spec, schema, window, since, fingerprint, staged)
        with closing(iter(stream)) as batches:
            if spec.mode is SyncMode.REPLACE:
                counts = load.replace(batches)
                return stream.rows, counts, True
            counts = load.upsert(batches, full_window=since is None)
        if since is None:
            return stream.rows, counts, True
        # Incremental reads cannot see rows deleted at the source; a count that disagrees with
        # the fingerprint means some were, so reconcile the whole window in this transaction.
        if load.count_rows() == fingerprint.row_count:
            return stream.rows, counts, False
        full = self._stream(spec, schema, window, None, fingerprint, staged)
        with closing(iter(full)) as batches:
            counts = _add(counts, load.upsert(batches, full_window=True))
        return stream.rows + full.rows, counts, True
