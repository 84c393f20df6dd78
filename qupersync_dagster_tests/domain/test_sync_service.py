"""The sync orchestration rules, against in-memory repositories.

These pin down what the engine decides (which days to read, how much of them, when to reconcile,
what to record) independently of any driver; the integration tests prove the same end to end.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from qupersync_dagster.domain.entities import (
    Column,
    ColumnType,
    PartitionOutcome,
    SchemaPolicy,
    SourceFingerprint,
    SyncMode,
    TableRef,
    TableSchema,
    TableSpec,
    TypeKind,
)
from qupersync_dagster.domain.errors import DataError, SchemaMismatchError
from qupersync_dagster.domain.services.sync_service import SyncService
from qupersync_dagster_tests.domain.fakes import FakeSource, FakeSourceTable, FakeTarget, Row

SOURCE = TableRef("billing", "usage")
START = date(2026, 3, 1)
DAYS = 3
END = START + timedelta(days=DAYS)

SCHEMA = TableSchema(
    (
        Column("id", ColumnType(TypeKind.VARCHAR, length=20), nullable=False),
        Column("usage_start", ColumnType(TypeKind.TIMESTAMP), nullable=False),
        Column("cost", ColumnType(TypeKind.NUMERIC, precision=12, scale=2)),
        Column("note", ColumnType(TypeKind.VARCHAR, length=100)),
        Column("updated_at", ColumnType(TypeKind.TIMESTAMP)),
    )
)
NOTES = ("plain", None, "tab\there", "line\nbreak\r", "back\\slash", "\\N", "")


def _row(day: int, n: int, cost: str = "1.25", updated: str = "2026-03-10 00:00:00") -> Row:
    return {
        "id": f"d{day}-{n}",
        "usage_start": f"{START + timedelta(days=day)} 0{n % 10}:00:00",
        "cost": cost,
        "note": NOTES[n % len(NOTES)],
        "updated_at": updated,
    }


def _spec(**changes) -> TableSpec:
    base = TableSpec(
        name="usage",
        source=SOURCE,
        target=TableRef("cost", "usage"),
        partition_column="usage_start",
        start_date=START,
        measure_column="cost",
    )
    return replace(base, **changes)


UPSERT = {"mode": SyncMode.UPSERT, "primary_key": ("id",), "watermark_column": "updated_at"}


def _source(rows_per_day: int = 5) -> FakeSource:
    rows = [_row(day, n) for day in range(DAYS) for n in range(rows_per_day)]
    return FakeSource({SOURCE: FakeSourceTable(SCHEMA, rows)})


def _table(rows: list[Row]) -> list[tuple]:
    return sorted(tuple(r[c] for c in SCHEMA.names) for r in rows)


def _outcomes(results) -> list[PartitionOutcome]:
    return [r.outcome for r in results]


def test_first_sync_copies_every_day_and_records_its_fingerprint():
    source, target = _source(), FakeTarget()
    results = SyncService(source, target).sync(_spec(), START, END)

    assert _outcomes(results) == [PartitionOutcome.SYNCED] * DAYS
    assert _table(target.rows(_spec())) == _table(source.tables[SOURCE].rows)
    assert [r.rows_extracted for r in results] == [5, 5, 5]
    states = target.stored_states("usage")
    assert sorted(states) == [d.isoformat() for d in (START + timedelta(i) for i in range(DAYS))]
    assert {s.fingerprint.row_count for s in states.values()} == {5}
    assert {s.fingerprint.measure_sum for s in states.values()} == {"6.25"}
    assert {s.fingerprint.schema_signature for s in states.values()} == {SCHEMA.signature()}


def test_each_day_is_streamed_with_its_fingerprint_row_count_so_a_large_day_can_be_sliced():
    rows = [_row(0, n) for n in range(7)] + [_row(1, n) for n in range(2)]
    source = FakeSource({SOURCE: FakeSourceTable(SCHEMA, rows)})

    SyncService(source, FakeTarget()).sync(_spec(), START, END)

    assert source.expected_rows == [7, 2, 0]


def test_resync_of_an_unchanged_source_skips_every_day_and_writes_nothing():
    source, target = _source(), FakeTarget()
    service = SyncService(source, target)
    service.sync(_spec(), START, END)
    streams, commits = len(source.streams), len(target.commits)

    results = service.sync(_spec(), START, END)

    assert _outcomes(results) == [PartitionOutcome.UNCHANGED] * DAYS
    assert len(source.streams) == streams
    assert len(target.commits) == commits


def test_force_rewrites_days_whose_source_is_unchanged():
    source, target = _source(), FakeTarget()
    service = SyncService(source, target)
    service.sync(_spec(), START, END)

    results = service.sync(_spec(), START, END, force=True)

    assert _outcomes(results) == [PartitionOutcome.SYNCED] * DAYS
    assert [r.counts.deleted for r in results] == [5, 5, 5]
    assert _table(target.rows(_spec())) == _table(source.tables[SOURCE].rows)


def test_replace_rewrites_only_the_restated_day():
    source, target = _source(), FakeTarget()
    service = SyncService(source, target)
    service.sync(_spec(), START, END)
    rows = source.tables[SOURCE].rows
    rows.remove(next(r for r in rows if r["id"] == "d1-0"))
    next(r for r in rows if r["id"] == "d1-1")["cost"] = "-3.50"

    results = service.sync(_spec(), START, END)

    assert _outcomes(results) == [
        PartitionOutcome.UNCHANGED,
        PartitionOutcome.SYNCED,
        PartitionOutcome.UNCHANGED,
    ]
    assert (results[1].counts.deleted, results[1].counts.inserted) == (5, 4)
    assert _table(target.rows(_spec())) == _table(rows)


def test_a_day_emptied_at_the_source_is_emptied_in_the_target():
    source, target = _source(), FakeTarget()
    service = SyncService(source, target)
    service.sync(_spec(), START, END)
    rows = source.tables[SOURCE].rows
    rows[:] = [r for r in rows if not r["id"].startswith("d2-")]

    results = service.sync(_spec(), START, END)

    assert results[2].outcome is PartitionOutcome.SYNCED
    assert results[2].counts.deleted == 5
    assert results[2].fingerprint.row_count == 0
    assert _table(target.rows(_spec())) == _table(rows)


def test_upsert_reads_only_rows_changed_since_the_stored_watermark():
    source, target = _source(), FakeTarget()
    spec = _spec(**UPSERT)
    service = SyncService(source, target)
    service.sync(spec, START, END)
    rows = source.tables[SOURCE].rows
    changed = next(r for r in rows if r["id"] == "d0-2")
    changed.update(cost="9.99", updated_at="2026-03-11 00:00:00")
    rows.append(_row(0, 7, cost="-1.00", updated="2026-03-11 00:00:01"))

    results = service.sync(spec, START, END)

    assert results[0].outcome is PartitionOutcome.SYNCED
    assert results[0].rows_extracted == 2
    assert results[0].full_window is False
    assert (results[0].counts.inserted, results[0].counts.updated) == (1, 1)
    assert source.streams[-1] == (START.isoformat(), "2026-03-10 00:00:00")
    assert _outcomes(results[1:]) == [PartitionOutcome.UNCHANGED] * 2
    assert _table(target.rows(spec)) == _table(rows)


def test_upsert_reconciles_the_whole_window_when_source_rows_were_deleted():
    source, target = _source(), FakeTarget()
    spec = _spec(**UPSERT)
    service = SyncService(source, target)
    service.sync(spec, START, END)
    rows = source.tables[SOURCE].rows
    rows[:] = [r for r in rows if r["id"] not in ("d1-0", "d1-3")]
    next(r for r in rows if r["id"] == "d1-1").update(updated_at="2026-03-12 00:00:00")

    results = service.sync(spec, START, END)

    day = results[1]
    assert day.full_window is True
    assert day.counts.deleted == 2
    assert day.rows_extracted == 1 + 3  # the incremental read, then the whole window
    assert source.streams[-2:] == [
        (day.partition, "2026-03-10 00:00:00"),
        (day.partition, None),
    ]
    assert _table(target.rows(spec)) == _table(rows)


def test_a_rewritten_day_brings_the_target_rows_it_committed_and_a_skipped_day_none():
    source, target = _source(), FakeTarget()
    service = SyncService(source, target)
    service.sync(_spec(), START, END)
    rows = source.tables[SOURCE].rows
    rows.remove(next(r for r in rows if r["id"] == "d1-0"))
    rows[:] = [r for r in rows if not r["id"].startswith("d2-")]

    results = service.sync(_spec(), START, END)

    assert [r.mirrored for r in results] == [
        None,
        SourceFingerprint(4, "5.00"),
        SourceFingerprint(0),
    ]


def test_an_incremental_upsert_brings_every_row_of_the_day_it_committed_not_only_those_read():
    source, target = _source(), FakeTarget()
    spec = _spec(**UPSERT)
    service = SyncService(source, target)
    service.sync(spec, START, END)
    rows = source.tables[SOURCE].rows
    rows.append(_row(0, 7, cost="-1.00", updated="2026-03-11 00:00:01"))

    [first, *_] = service.sync(spec, START, END)

    assert first.rows_extracted == 1
    assert first.mirrored == SourceFingerprint(6, "5.25")


def test_upsert_lookback_reads_from_the_watermark_minus_the_lookback():
    source, target = _source(), FakeTarget()
    spec = _spec(**UPSERT, lookback=timedelta(hours=36))
    service = SyncService(source, target)
    service.sync(spec, START, END)
    changed = next(r for r in source.tables[SOURCE].rows if r["id"] == "d2-4")
    changed.update(cost="0.01", updated_at="2026-03-10 00:00:01")

    service.sync(spec, START, END)

    assert source.streams[-1] == ((END - timedelta(1)).isoformat(), "2026-03-08 12:00:00")


def test_a_schema_change_makes_every_day_sync_again_reading_whole_windows():
    source, target = _source(), FakeTarget()
    spec = _spec(**UPSERT)
    service = SyncService(source, target)
    service.sync(spec, START, END)
    table = source.tables[SOURCE]
    table.schema = TableSchema(
        table.schema.columns + (Column("region", ColumnType(TypeKind.TEXT)),)
    )
    for row in table.rows:
        row["region"] = "eu-west-1"

    results = service.sync(spec, START, END)

    assert _outcomes(results) == [PartitionOutcome.SYNCED] * DAYS
    assert all(since is None for _, since in source.streams[-DAYS:])
    assert {r["region"] for r in target.rows(spec)} == {"eu-west-1"}
    assert target.ddl[-1] == "evolve cost.usage: +['region']"


def test_a_schema_mismatch_is_refused_before_anything_is_read_or_written():
    source, target = _source(), FakeTarget()
    spec = _spec(schema_policy=SchemaPolicy.FAIL)
    service = SyncService(source, target)
    service.sync(spec, START, END)
    table = source.tables[SOURCE]
    columns = list(table.schema.columns)
    columns[3] = Column("note", ColumnType(TypeKind.VARCHAR, length=500))
    columns.append(Column("region", ColumnType(TypeKind.TEXT)))
    table.schema = TableSchema(tuple(columns))
    reads, commits, ddl = len(source.streams), list(target.commits), list(target.ddl)
    before = _table(target.rows(spec))

    with pytest.raises(SchemaMismatchError) as raised:
        service.sync(spec, START, END)

    assert len(raised.value.differences) == 2
    assert any("'note'" in d and "varchar(100)" in d for d in raised.value.differences)
    assert any("'region'" in d and "missing" in d for d in raised.value.differences)
    assert (len(source.streams), target.commits, target.ddl) == (reads, commits, ddl)
    assert _table(target.rows(spec)) == before


def test_check_schema_plans_the_target_table_without_creating_it():
    source, target = _source(), FakeTarget()

    schema, plan = SyncService(source, target).check_schema(_spec())

    assert schema == SCHEMA
    assert plan.create and plan.ok
    assert target.ddl == []


def test_a_source_failure_mid_day_leaves_target_and_state_as_they_were():
    source, target = _source(), FakeTarget()
    service = SyncService(source, target)
    service.sync(_spec(), START, END)
    source.tables[SOURCE].rows[0]["cost"] = "100.00"
    before, states = _table(target.rows(_spec())), dict(target.states)
    source.fail_after_batches = 1

    with pytest.raises(ConnectionError):
        service.sync(_spec(), START, END)

    assert _table(target.rows(_spec())) == before
    assert target.states == states
    assert source.open_streams == 0


def test_a_failed_read_of_the_next_day_fails_that_day_and_not_the_one_before_it():
    source, target = _source(), FakeTarget()
    source.failing_day = (START + timedelta(1)).isoformat()

    with pytest.raises(ConnectionError):
        SyncService(source, target).sync(_spec(), START, END)

    assert target.commits == [START.isoformat()]
    assert sorted(target.stored_states("usage")) == [START.isoformat()]
    assert _table(target.rows(_spec())) == _table(
        [r for r in source.tables[SOURCE].rows if r["id"].startswith("d0-")]
    )
    assert source.open_streams == 0


def test_days_are_read_in_order_each_once_while_the_target_writes_the_one_before():
    source, target = _source(), FakeTarget()

    SyncService(source, target).sync(_spec(), START, END)

    assert source.streams == [((START + timedelta(i)).isoformat(), None) for i in range(DAYS)]
    assert source.open_streams == 0


def test_a_target_failure_releases_the_source_stream():
    source, target = _source(rows_per_day=20), FakeTarget()
    service = SyncService(source, target, prefetch_depth=1)
    target.fail_on_load = DataError("usage", START.isoformat(), "cost", "numeric field overflow")

    with pytest.raises(DataError):
        service.sync(_spec(), START, END)

    assert source.open_streams == 0
    assert target.states == {}
    assert target.rows(_spec()) == []


def test_a_day_synced_by_another_run_while_waiting_for_its_lock_is_not_written_again():
    source, target = _source(), FakeTarget()
    spec = _spec()
    other_run = SyncService(source, target)
    target.before_lock = lambda s, window: other_run.sync(s, window.start, window.end)

    results = SyncService(source, target).sync(spec, START, START + timedelta(1))

    assert results[0].outcome is PartitionOutcome.UNCHANGED
    assert results[0].waited_for_lock is True
    assert results[0].mirrored is None  # this run did not write the day
    assert target.commits == [START.isoformat()]
    assert len(source.streams) == 1


def test_each_day_is_reported_as_soon_as_it_is_finished():
    source, target = _source(), FakeTarget()
    reported: list[tuple[str, int]] = []

    results = SyncService(source, target).sync(
        _spec(), START, END, on_result=lambda r: reported.append((r.partition, len(target.commits)))
    )

    assert reported == [(r.partition, i + 1) for i, r in enumerate(results)]
