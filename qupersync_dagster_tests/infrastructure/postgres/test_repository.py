"""The PostgreSQL target against a real server: DDL, partition transactions, errors, sync state.

Data and sync state must move together or not at all, and a value the target refuses must be
reported precisely without anything changing; these properties only hold if the server agrees,
so every assertion here reads the server's own catalogue and tables directly.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime

import pytest

from qupersync_dagster.domain.entities import (
    Column,
    ColumnType,
    PartitionWindow,
    RowBatch,
    SourceFingerprint,
    SyncMode,
    SyncWatermark,
    TableRef,
    TableSchema,
    TableSpec,
    TypeKind,
)
from qupersync_dagster.domain.errors import DataError
from qupersync_dagster.infrastructure.postgres.repository import PostgresTargetRepository
from qupersync_dagster_tests.domain.fakes import encode_row

pytestmark = pytest.mark.integration

T = TypeKind
DAY = date(2026, 8, 3)
WINDOW = PartitionWindow.day(DAY)
SPEC = TableSpec(
    name="usage",
    source=TableRef("billing", "usage"),
    target=TableRef("cost", "usage"),
    partition_column="usage_start",
    start_date=date(2026, 8, 1),
    mode=SyncMode.UPSERT,
    primary_key=("id",),
    watermark_column="updated_at",
    measure_column="cost",
)
SCHEMA = TableSchema(
    (
        Column("id", ColumnType(T.VARCHAR, length=20), nullable=False),
        Column("usage_start", ColumnType(T.TIMESTAMP), nullable=False),
        Column("cost", ColumnType(T.NUMERIC, precision=12, scale=2)),
        Column("note", ColumnType(T.VARCHAR, length=5)),
        Column("updated_at", ColumnType(T.TIMESTAMP)),
    )
)
COLUMNS = SCHEMA.names
EVERY_TYPE = TableSchema(
    (
        Column("k", ColumnType(T.BIGINT), nullable=False),
        Column("day", ColumnType(T.DATE), nullable=False),
        Column("v", ColumnType(T.VARCHAR, length=300)),
        Column("v_unbounded", ColumnType(T.VARCHAR)),
        Column("c", ColumnType(T.CHAR, length=3)),
        Column("t", ColumnType(T.TEXT)),
        Column("s", ColumnType(T.SMALLINT)),
        Column("i", ColumnType(T.INTEGER), nullable=False),
        Column("n", ColumnType(T.NUMERIC, precision=38, scale=10)),
        Column("n_free", ColumnType(T.NUMERIC)),
        Column("r", ColumnType(T.REAL)),
        Column("d", ColumnType(T.DOUBLE)),
        Column("b", ColumnType(T.BOOLEAN)),
        Column("ts", ColumnType(T.TIMESTAMP)),
        Column("tz", ColumnType(T.TIMESTAMPTZ)),
        Column("j", ColumnType(T.JSON)),
    )
)
EVERY_SPEC = TableSpec(
    name="every",
    source=TableRef("billing", "every"),
    target=TableRef("cost", "every"),
    partition_column="day",
    start_date=DAY,
    mode=SyncMode.UPSERT,
    primary_key=("k", "day"),
)
EVERY_TYPE_DDL = [
    ("k", "bigint", True),
    ("day", "date", True),
    ("v", "character varying(300)", False),
    ("v_unbounded", "text", False),
    ("c", "character(3)", False),
    ("t", "text", False),
    ("s", "smallint", False),
    ("i", "integer", True),
    ("n", "numeric(38,10)", False),
    ("n_free", "numeric", False),
    ("r", "real", False),
    ("d", "double precision", False),
    ("b", "boolean", False),
    ("ts", "timestamp without time zone", False),
    ("tz", "timestamp with time zone", False),
    ("j", "jsonb", False),
]


@pytest.fixture
def target(engine) -> PostgresTargetRepository:
    repository = PostgresTargetRepository(engine)
    repository.create_table(SPEC, SCHEMA)
    return repository


def _batch(*rows: tuple) -> list[RowBatch]:
    return [RowBatch("".join(encode_row(list(r)) + "\n" for r in rows).encode(), len(rows))]


def _row(n: int, cost: str = "1.00", note: str | None = "ok", updated: str = "2026-08-04 00:00:00"):
    return (f"id-{n}", f"{DAY} 0{n % 10}:00:00", cost, note, updated)


def _state(rows: int = 0) -> SyncWatermark:
    return SyncWatermark(
        table=SPEC.name,
        partition=WINDOW.key,
        fingerprint=SourceFingerprint(rows, "3.00", "2026-08-04 00:00:00", "sig"),
        watermark="2026-08-04 00:00:00",
        rows_extracted=rows,
        rows_inserted=rows,
        rows_updated=0,
        rows_deleted=0,
        finished_at=datetime(2026, 8, 5, 6, 0, 0, 123456, tzinfo=UTC),
    )


def _rows(db) -> list[tuple]:
    db.execute("SELECT id, usage_start::text, cost::text, note, updated_at::text FROM cost.usage")
    return sorted(db.fetchall())


def _states(db) -> list[tuple]:
    db.execute("SELECT * FROM qupersync.sync_state ORDER BY 1, 2")
    return db.fetchall()


def _load(target, spec=SPEC, *, mode: str, batches, full_window=True, commit=True):
    with target.partition(spec, WINDOW, COLUMNS) as load:
        if mode == "replace":
            counts = load.replace(batches)
        else:
            counts = load.upsert(batches, full_window=full_window)
        if commit:
            load.commit(_state(load.count_rows()))
    return counts


def test_create_table_maps_every_logical_type_with_keys_not_null_and_an_index(engine, db):
    PostgresTargetRepository(engine).create_table(EVERY_SPEC, EVERY_TYPE)

    db.execute(
        "SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute"
        " WHERE attrelid = 'cost.every'::regclass AND attnum > 0 ORDER BY attnum"
    )
    assert db.fetchall() == EVERY_TYPE_DDL
    db.execute(
        "SELECT array_agg(a.attname ORDER BY array_position(i.indkey, a.attnum))"
        " FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
        " AND a.attnum = ANY (i.indkey)"
        " WHERE i.indrelid = 'cost.every'::regclass GROUP BY i.indexrelid, i.indisprimary"
        " ORDER BY i.indisprimary DESC"
    )
    assert db.fetchall() == [(["k", "day"],), (["day"],)]


def test_describe_reads_back_what_create_table_made(engine):
    repository = PostgresTargetRepository(engine)
    assert repository.describe(EVERY_SPEC) is None
    repository.create_table(EVERY_SPEC, EVERY_TYPE)

    described = repository.describe(EVERY_SPEC)

    expected = tuple(
        Column(c.name, ColumnType(T.TEXT) if c.name == "v_unbounded" else c.type, c.nullable)
        for c in EVERY_TYPE.columns
    )
    assert described == TableSchema(expected, ("k", "day"))


def test_evolve_adds_and_widens_columns_keeping_the_rows(target, db):
    _load(target, mode="replace", batches=_batch(_row(1, note="abcde")))
    region = Column("region", ColumnType(T.VARCHAR, length=16))
    wider = [
        Column("note", ColumnType(T.VARCHAR, length=200)),
        Column("cost", ColumnType(T.NUMERIC, precision=20, scale=4)),
    ]

    target.evolve_table(SPEC, [region], wider)

    described = target.describe(SPEC)
    assert described.get("region") == region
    assert described.get("note").type == wider[0].type
    assert described.get("cost").type == wider[1].type
    db.execute("SELECT id, cost::text, note, region FROM cost.usage")
    assert db.fetchall() == [("id-1", "1.0000", "abcde", None)]


def test_replace_deletes_the_window_and_counts_what_it_wrote(target, db):
    first = _load(target, mode="replace", batches=_batch(_row(1), _row(2), _row(3)))
    outside = ("id-9", "2026-08-04 00:00:00", "5.00", None, "2026-08-04 00:00:00")
    db.execute("INSERT INTO cost.usage VALUES (%s, %s, %s, %s, %s)", outside)

    second = _load(target, mode="replace", batches=_batch(_row(4), _row(5)))

    assert (first.inserted, first.deleted) == (3, 0)
    assert (second.inserted, second.deleted) == (2, 3)
    assert [r[0] for r in _rows(db)] == ["id-4", "id-5", "id-9"]


def _locations(db) -> dict[str, str]:
    db.execute("SELECT id, ctid::text FROM cost.usage")
    return dict(db.fetchall())


def test_keyed_replace_of_a_stored_day_rewrites_only_the_rows_that_differ(target, db):
    _load(target, mode="replace", batches=_batch(_row(1), _row(2), _row(3), _row(4)))
    before = _locations(db)

    counts = _load(
        target, mode="replace", batches=_batch(_row(1), _row(2, cost="2.50"), _row(3), _row(5))
    )

    assert (counts.inserted, counts.updated, counts.deleted) == (1, 1, 1)
    assert _rows(db) == sorted([_row(1), _row(2, cost="2.50"), _row(3), _row(5)])
    after = _locations(db)
    assert {i: after[i] for i in ("id-1", "id-3")} == {i: before[i] for i in ("id-1", "id-3")}
    assert after["id-2"] != before["id-2"]


def test_keyed_replace_of_an_unchanged_day_writes_nothing(target, db):
    rows = (_row(1), _row(2, note=None), _row(3, note=""))
    _load(target, mode="replace", batches=_batch(*rows))
    before = _locations(db)

    counts = _load(target, mode="replace", batches=_batch(*rows))

    assert (counts.inserted, counts.updated, counts.deleted) == (0, 0, 0)
    assert _locations(db) == before


def _every_row(k: int, real: str, double: str, free: str) -> tuple:
    timestamp = f"{DAY} 01:00:00"
    fields = (str(k), str(DAY), "v", None, "abc", "t", "1", "2", "1.5", free, real, double)
    return (*fields, "t", timestamp, timestamp + "+00", '{"a": 1}')


def test_keyed_replace_rewrites_values_equal_by_type_but_not_identical(engine, db):
    """0 = -0 for floats and 1.0 = 1.00 for unconstrained numeric: the target must still change."""
    target = PostgresTargetRepository(engine)
    target.create_table(EVERY_SPEC, EVERY_TYPE)

    def load(*rows):
        with target.partition(EVERY_SPEC, WINDOW, EVERY_TYPE.names) as load:
            counts = load.replace(_batch(*rows))
            load.commit(_state())
        return counts

    load(_every_row(1, "0", "0", "1.0"), _every_row(2, "0", "0", "1.0"))
    counts = load(_every_row(1, "-0", "-0", "1.0"), _every_row(2, "0", "0", "1.00"))

    assert (counts.inserted, counts.updated, counts.deleted) == (0, 2, 0)
    db.execute("SELECT k, r::text, d::text, n_free::text FROM cost.every ORDER BY k")
    assert db.fetchall() == [(1, "-0", "-0", "1.0"), (2, "0", "0", "1.00")]


def test_keyed_replace_refuses_a_duplicate_key_naming_it_and_changes_nothing(target, db):
    _load(target, mode="replace", batches=_batch(_row(1), _row(2)))
    rows, states = _rows(db), _states(db)

    with pytest.raises(DataError) as raised:
        _load(target, mode="replace", batches=_batch(_row(1), _row(2), _row(2, cost="9.00")))

    error = raised.value
    assert (error.table, error.partition, error.column) == ("usage", WINDOW.key, "id")
    assert "duplicate key" in error.value_class and "(id)=(id-2)" in str(error)
    assert (_rows(db), _states(db)) == (rows, states)


def test_keyed_replace_refuses_a_null_key_naming_the_column(target, db):
    _load(target, mode="replace", batches=_batch(_row(1)))
    rows, states = _rows(db), _states(db)

    with pytest.raises(DataError) as raised:
        _load(target, mode="replace", batches=_batch(_row(1), (None, *_row(2)[1:])))

    assert raised.value.column == "id" and "null value" in raised.value.value_class
    assert (_rows(db), _states(db)) == (rows, states)


def test_upsert_inserts_updates_changed_rows_only_and_deletes_absent_keys(target, db):
    _load(target, mode="upsert", batches=_batch(_row(1), _row(2), _row(3)))

    counts = _load(target, mode="upsert", batches=_batch(_row(1), _row(2, cost="2.50"), _row(4)))

    assert (counts.inserted, counts.updated, counts.deleted) == (1, 1, 1)
    assert _rows(db) == sorted([_row(1), _row(2, cost="2.50"), _row(4)])


def test_an_incremental_upsert_keeps_rows_it_did_not_read(target, db):
    _load(target, mode="upsert", batches=_batch(_row(1), _row(2)))

    counts = _load(target, mode="upsert", batches=_batch(_row(2, cost="7.00")), full_window=False)

    assert (counts.inserted, counts.updated, counts.deleted) == (0, 1, 0)
    assert _rows(db) == sorted([_row(1), _row(2, cost="7.00")])


@pytest.mark.parametrize("reverse", [False, True], ids=["latest last", "latest first"])
def test_duplicate_keys_resolve_to_the_latest_watermark_whatever_the_order(target, db, reverse):
    rows = [
        _row(1, cost="1.00", updated="2026-08-04 01:00:00"),
        _row(1, cost="3.00", updated="2026-08-04 03:00:00"),
        _row(1, cost="2.00", updated="2026-08-04 02:00:00"),
        _row(2),
    ]
    counts = _load(target, mode="upsert", batches=_batch(*(rows[::-1] if reverse else rows)))

    assert counts.duplicates_dropped == 2
    assert counts.inserted == 2
    assert _rows(db) == sorted([rows[1], rows[3]])


def test_a_null_key_is_refused_naming_the_column(target, db):
    with pytest.raises(DataError) as raised:
        _load(target, mode="upsert", batches=_batch(_row(1), (None, *_row(2)[1:])))
    assert raised.value.column == "id"
    assert "NULL" in raised.value.value_class
    assert _rows(db) == [] and _states(db) == []


def test_a_value_too_long_is_refused_naming_table_column_and_value_class(target, db):
    _load(target, mode="replace", batches=_batch(_row(1), _row(2)))
    rows, states = _rows(db), _states(db)

    with pytest.raises(DataError) as raised:
        _load(target, mode="replace", batches=_batch(_row(3), _row(4, note="much too long")))

    error = raised.value
    assert (error.table, error.partition, error.column) == ("usage", WINDOW.key, "note")
    assert error.value_class == "value too long for type character varying(5)"
    assert "much too long" not in str(error)
    assert (_rows(db), _states(db)) == (rows, states)


def test_state_is_saved_only_by_commit_and_with_the_data(target, db):
    with target.partition(SPEC, WINDOW, COLUMNS) as load:
        load.replace(_batch(_row(1)))
        assert load.stored_state() is None
        db.execute("SELECT count(*) FROM cost.usage")
        assert db.fetchone() == (0,)  # not visible before the commit
        load.commit(_state(1))

    assert target.stored_states("usage") == {WINDOW.key: _state(1)}
    assert len(_rows(db)) == 1


def test_leaving_the_partition_without_commit_rolls_back_data_and_state(target, db):
    _load(target, mode="replace", batches=_batch(_row(1)))
    rows, states = _rows(db), _states(db)

    with target.partition(SPEC, WINDOW, COLUMNS) as load:
        load.replace(_batch(_row(5), _row(6)))
        assert load.count_rows() == 2

    assert (_rows(db), _states(db)) == (rows, states)


def test_an_error_inside_the_partition_rolls_back_and_propagates(target, db):
    _load(target, mode="replace", batches=_batch(_row(1)))
    rows, states = _rows(db), _states(db)

    with pytest.raises(RuntimeError), target.partition(SPEC, WINDOW, COLUMNS) as load:
        load.replace(_batch(_row(5)))
        raise RuntimeError("the source failed")

    assert (_rows(db), _states(db)) == (rows, states)


def test_an_open_partition_holds_its_lock_against_other_runs(target, pg_server, target_db):
    with target.partition(SPEC, WINDOW, COLUMNS) as first:
        assert first.waited_for_lock is False
        with contextlib.closing(pg_server.connect(target_db)) as other, other.cursor() as cur:
            cur.execute(
                "SELECT pg_try_advisory_xact_lock(hashtext(%s), hashtext(%s))",
                (SPEC.name, WINDOW.key),
            )
            assert cur.fetchone() == (False,)
