"""Cursor or UNLOAD: the choice per day, and what the engine does with it and with what was staged.

The estimate is pinned by hand-computed widths; the engine is run against the in-memory fakes,
whose source "stages" an UNLOAD as two files and reports when their deletion is asked for.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from qupersync_dagster.domain.entities import (
    Column,
    ColumnType,
    ExtractMethod,
    PartitionOutcome,
    SourceFingerprint,
    SyncMode,
    TableRef,
    TableSchema,
    TableSpec,
    TypeKind,
)
from qupersync_dagster.domain.errors import ConfigError
from qupersync_dagster.domain.services.extract_choice import choose, estimated_bytes
from qupersync_dagster.domain.services.sync_service import SyncService
from qupersync_dagster_tests.domain.fakes import FakeSource, FakeSourceTable, FakeTarget, Row

SOURCE = TableRef("billing", "usage")
START = date(2026, 3, 1)
SCHEMA = TableSchema(
    (
        Column("id", ColumnType(TypeKind.VARCHAR, length=20), nullable=False),
        Column("usage_start", ColumnType(TypeKind.TIMESTAMP), nullable=False),
        Column("cost", ColumnType(TypeKind.NUMERIC, precision=12, scale=2)),
        Column("tags", ColumnType(TypeKind.JSON)),
    )
)
# varchar(20): 20 + 1; timestamp: 20; numeric(12,2): 14 + 1; SUPER: 256
ROW_BYTES = 21 + 20 + 15 + 256


def _spec(**changes) -> TableSpec:
    spec = TableSpec(
        name="usage",
        source=SOURCE,
        target=TableRef("cost", "usage"),
        partition_column="usage_start",
        start_date=START,
    )
    return replace(spec, **changes)


def _day(rows: int) -> SourceFingerprint:
    return SourceFingerprint(row_count=rows)


def test_a_row_is_estimated_at_typical_widths_of_its_column_types():
    assert estimated_bytes(SCHEMA, 1_000) == 1_000 * ROW_BYTES
    wide = TableSchema((Column("note", ColumnType(TypeKind.VARCHAR, length=65_535)),))
    char = TableSchema((Column("code", ColumnType(TypeKind.CHAR, length=3)),))
    assert estimated_bytes(wide, 1) == 33  # a typical string, not its declared maximum
    assert estimated_bytes(char, 1) == 4  # padded to its length


def test_auto_unloads_a_day_estimated_above_the_threshold_and_reads_smaller_ones_by_cursor():
    spec = _spec(unload_above_mb=1)
    rows_at_threshold = 1_000_000 // ROW_BYTES

    above = choose(spec, SCHEMA, _day(rows_at_threshold + 1), staging=True)
    within = choose(spec, SCHEMA, _day(rows_at_threshold), staging=True)

    assert above.method is ExtractMethod.UNLOAD
    assert above.reason == "auto: about 1.0 MB estimated, above 1 MB"
    assert within.method is ExtractMethod.CURSOR
    assert within.reason == "auto: about 1.0 MB estimated, within 1 MB"


def test_auto_reads_by_cursor_whatever_the_size_when_no_staging_is_configured():
    choice = choose(_spec(unload_above_mb=0), SCHEMA, _day(10**9), staging=False)

    assert choice.method is ExtractMethod.CURSOR
    assert choice.reason == "auto: no S3 staging configured"


def test_an_explicit_method_is_used_whatever_the_size():
    spec = _spec(unload_above_mb=0)
    assert choose(
        replace(spec, extract=ExtractMethod.CURSOR), SCHEMA, _day(10**9), True
    ).method is (ExtractMethod.CURSOR)
    unload = choose(replace(spec, extract=ExtractMethod.UNLOAD), SCHEMA, _day(0), True)
    assert (unload.method, unload.reason) == (ExtractMethod.UNLOAD, "extract: unload")


def test_extract_unload_without_staging_is_refused_naming_the_table():
    with pytest.raises(ConfigError, match="table 'usage': extract 'unload' needs S3 staging"):
        choose(_spec(extract=ExtractMethod.UNLOAD), SCHEMA, _day(1), staging=False)


def test_a_negative_threshold_is_refused():
    with pytest.raises(ConfigError, match="unload_above_mb must not be negative"):
        _spec(unload_above_mb=-1)


# The engine with the fakes: three days of 1, 40 and 1 rows, a threshold between them.

USAGE = TableSchema(SCHEMA.columns[:3])
USAGE_ROW = 21 + 20 + 15  # bytes
THRESHOLD = _spec(unload_above_mb=1, measure_column="cost")
ROWS_PER_DAY = (1, 1_000_000 // USAGE_ROW + 1, 1)  # the middle day is just above 1 MB
END = START + timedelta(days=len(ROWS_PER_DAY))


def _row(day: int, n: int) -> Row:
    return {
        "id": f"d{day}-{n}",
        "usage_start": f"{START + timedelta(days=day)} 01:00:00",
        "cost": "1.25",
    }


def _source(staging: bool = True) -> FakeSource:
    rows = [_row(day, n) for day, count in enumerate(ROWS_PER_DAY) for n in range(count)]
    return FakeSource(
        {SOURCE: FakeSourceTable(USAGE, rows)}, batch_size=5_000, staging_configured=staging
    )


def test_auto_unloads_only_the_large_day_and_each_result_says_how_its_day_was_read():
    source, target = _source(), FakeTarget()

    results = SyncService(source, target).sync(THRESHOLD, START, END)

    methods = [r.extraction.method for r in results if r.extraction]
    assert methods == [ExtractMethod.CURSOR, ExtractMethod.UNLOAD, ExtractMethod.CURSOR]
    assert results[1].extraction.reason == "auto: about 1.0 MB estimated, above 1 MB"
    assert (results[1].extraction.files, results[1].extraction.bytes_staged) == (2, 200)
    assert (results[0].extraction.files, results[0].extraction.bytes_staged) == (0, 0)
    assert [r.rows_extracted for r in results] == list(ROWS_PER_DAY)
    assert len(target.rows(THRESHOLD)) == sum(ROWS_PER_DAY)


def test_what_an_unload_staged_is_discarded_after_the_day_commits():
    source, target = _source(), FakeTarget()
    committed_when_discarded = {}
    source.on_discard = lambda key: committed_when_discarded.update({key: key in target.commits})

    SyncService(source, target).sync(THRESHOLD, START, END)

    assert committed_when_discarded == {(START + timedelta(days=1)).isoformat(): True}


def test_what_an_unload_staged_is_discarded_when_the_day_fails_and_nothing_is_written():
    source, target = _source(), FakeTarget()
    service = SyncService(source, target)
    discarded = []
    source.on_discard = discarded.append
    target.fail_on_load = ConnectionError("the target went away")
    middle = START + timedelta(days=1)

    with pytest.raises(ConnectionError):
        service.sync(THRESHOLD, middle, middle + timedelta(days=1))

    assert discarded == [middle.isoformat()]
    assert target.commits == [] and target.stored_states("usage") == {}


def test_an_unchanged_day_is_not_read_so_it_reports_no_extraction():
    source, target = _source(), FakeTarget()
    service = SyncService(source, target)
    service.sync(THRESHOLD, START, END)

    again = service.sync(THRESHOLD, START, END)

    assert [r.outcome for r in again] == [PartitionOutcome.UNCHANGED] * 3
    assert [r.extraction for r in again] == [None] * 3


def test_an_incremental_read_then_a_reconciliation_reports_the_staging_of_both():
    spec = replace(
        THRESHOLD,
        mode=SyncMode.UPSERT,
        primary_key=("id",),
        extract=ExtractMethod.UNLOAD,
    )
    spec = replace(spec, watermark_column="usage_start")
    source, target = _source(), FakeTarget()
    service = SyncService(source, target)
    service.sync(spec, START, END)
    rows = source.tables[SOURCE].rows
    rows.remove(next(r for r in rows if r["id"] == "d1-0"))  # deleted upstream
    rows.append(_row(1, 10**6) | {"usage_start": f"{START + timedelta(days=1)} 02:00:00"})

    (result,) = service.sync(spec, START + timedelta(days=1), START + timedelta(days=2))

    assert result.full_window and result.extraction.method is ExtractMethod.UNLOAD
    assert (result.extraction.files, result.extraction.bytes_staged) == (4, 400)


def test_a_table_that_asks_for_unload_without_staging_fails_before_writing_anything():
    source, target = _source(staging=False), FakeTarget()

    with pytest.raises(ConfigError, match="needs S3 staging"):
        SyncService(source, target).sync(
            replace(THRESHOLD, extract=ExtractMethod.UNLOAD), START, END
        )

    assert target.commits == [] and target.stored_states("usage") == {}
