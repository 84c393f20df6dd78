"""Whole syncs of generated CUR data, through the real driver, judged by the databases themselves.

Each scenario runs ``SyncService`` with the production repositories and then compares source and
target with SQL run directly on both (an md5 over every column of every row, numerics as text so
that their scale counts), never with QuperSync's own code.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal, localcontext

import pytest
from psycopg2 import sql

from qupersync_dagster import bootstrap
from qupersync_dagster.devkit import cur_data
from qupersync_dagster.domain.entities import (
    PartitionOutcome,
    SchemaPolicy,
    SyncMode,
    TableRef,
    TableSpec,
)
from qupersync_dagster.domain.errors import SchemaMismatchError
from qupersync_dagster.domain.services.sync_service import SyncService
from qupersync_dagster_tests.repositories import (
    postgres_settings,
    redshift_settings,
    sync_service,
)

pytestmark = pytest.mark.integration

START = date(2026, 8, 1)
DAYS = 10
END = START + timedelta(days=DAYS)
ROWS = 20_000
FETCH_SIZE = 2_000
SOURCE = "billing.cur_line_items"
TARGET = "cost.cur_line_items"
SPEC = TableSpec(
    name="cur_line_items",
    source=TableRef.parse(SOURCE, "source"),
    target=TableRef.parse(TARGET, "target"),
    partition_column="line_item_usage_start_date",
    start_date=START,
    primary_key=cur_data.PRIMARY_KEY,
    measure_column="line_item_unblended_cost",
)

UPSERT = replace(SPEC, mode=SyncMode.UPSERT, watermark_column="updated_at")
STRICT = replace(SPEC, schema_policy=SchemaPolicy.FAIL)


def _generate(server, database: str, *, days: int, rows: int) -> None:
    with contextlib.closing(server.connect(database)) as conn:
        schema, table = SOURCE.split(".")
        cur_data.create_source_table(conn, schema, table)
        cur_data.generate(conn, schema, table, start=START, days=days, rows=rows)


@pytest.fixture(scope="module")
def cur_template(pg_server) -> Iterator[str]:
    """A database holding the generated CUR table, generated once and copied per test."""
    name = f"qs_cur_template_{uuid.uuid4().hex[:10]}"
    pg_server.create_database(name)
    _generate(pg_server, name, days=DAYS, rows=ROWS)
    yield name
    pg_server.drop_database(name)


@pytest.fixture
def cur_db(pg_server, cur_template) -> Iterator[str]:
    """A private copy of the generated source, free to restate and alter."""
    name = f"qs_cur_{uuid.uuid4().hex[:10]}"
    with contextlib.closing(pg_server.connect("postgres")) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(cur_template)
                )
            )
    yield name
    pg_server.drop_database(name)


@pytest.fixture
def source(pg_server, cur_db):
    """A psycopg2 connection to the source, for changing it and reading it independently."""
    with contextlib.closing(pg_server.connect(cur_db)) as conn:
        conn.autocommit = True
        yield conn.cursor()


@pytest.fixture
def restate(pg_server, cur_db):
    """Re-deliver a day of the source the way AWS restates a CUR (see ``cur_data.restate_day``)."""

    def restate_day(day: date, **options) -> dict[str, int]:
        schema, table = SOURCE.split(".")
        with contextlib.closing(pg_server.connect(cur_db)) as conn:
            return cur_data.restate_day(conn, schema, table, day, **options)

    return restate_day


@pytest.fixture
def target(pg_server, target_db):
    with contextlib.closing(pg_server.connect(target_db)) as conn:
        conn.autocommit = True
        yield conn.cursor()


def _service_for(emulator, server, source_db: str, target_db: str):
    return sync_service(emulator, server, source_db, target_db, FETCH_SIZE)


@pytest.fixture
def service(redshift_emulator, pg_server, cur_db, target_db) -> Iterator[SyncService]:
    with _service_for(redshift_emulator, pg_server, cur_db, target_db) as opened:
        yield opened


def _columns(cur, table: str) -> list[str]:
    schema, name = table.split(".")
    cur.execute(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        (schema, name),
    )
    return [
        f"{column}::jsonb::text" if data_type.startswith("json") else f"{column}::text"
        for column, data_type in cur.fetchall()
    ]


def _digests(cur, table: str, columns: list[str], key: tuple[str, ...] = SPEC.primary_key):
    """Per day: row count and md5 of every row (all ``columns`` as text) in key order."""
    cur.execute(
        f"SELECT line_item_usage_start_date::date, count(*),"
        f" md5(string_agg(ROW({', '.join(columns)})::text, E'\\n' ORDER BY {', '.join(key)}))"
        f" FROM {table} GROUP BY 1 ORDER BY 1"
    )
    return {day: (count, digest) for day, count, digest in cur.fetchall()}


def _assert_target_equals_source(source, target) -> dict:
    columns = _columns(source, SOURCE)
    expected = _digests(source, SOURCE, columns)
    assert _digests(target, TARGET, columns) == expected
    return expected


def _states(target) -> dict[str, tuple]:
    target.execute(
        "SELECT partition_key, row_count, measure_sum, max_watermark, schema_signature,"
        " rows_extracted, rows_inserted, rows_updated, rows_deleted, finished_at"
        " FROM qupersync.sync_state WHERE table_name = %s",
        (SPEC.name,),
    )
    return {row[0]: row[1:] for row in target.fetchall()}


def _outcomes(results) -> dict[str, PartitionOutcome]:
    return {r.partition: r.outcome for r in results}


def _day_count(cur, day: date) -> int:
    cur.execute(
        f"SELECT count(*) FROM {SOURCE}"
        " WHERE line_item_usage_start_date >= %s AND line_item_usage_start_date < %s",
        (day, day + timedelta(days=1)),
    )
    return cur.fetchone()[0]


def test_a_full_sync_copies_every_row_exactly(service, source, target):
    results = service.sync(SPEC, START, END)

    assert set(_outcomes(results).values()) == {PartitionOutcome.SYNCED}
    assert len(results) == DAYS
    assert sum(r.rows_extracted for r in results) == ROWS
    assert sum(r.counts.inserted for r in results) == ROWS
    assert len(_assert_target_equals_source(source, target)) == DAYS


@pytest.mark.parametrize("connections", [1, 3, 8])  # 8: more lanes than a default pool
def test_days_read_over_several_connections_at_once_land_exactly_and_each_once(
    redshift_emulator, pg_server, cur_db, target_db, source, target, connections
):
    settings = redshift_settings(
        redshift_emulator, pg_server, cur_db, FETCH_SIZE, read_connections=connections
    )
    opened = redshift_emulator.connections_opened
    with bootstrap.open_sync_service(settings, postgres_settings(pg_server, target_db)) as service:
        # Every lane holds a target connection for its day; none may wait for another's.
        assert service.target.target.engine.pool.size() >= connections
        results = service.sync(SPEC, START, END)

    assert redshift_emulator.connections_opened - opened == connections
    assert [r.partition for r in results] == [
        (START + timedelta(days=d)).isoformat() for d in range(DAYS)
    ]
    assert set(_outcomes(results).values()) == {PartitionOutcome.SYNCED}
    assert sum(r.counts.inserted for r in results) == ROWS
    assert len(_assert_target_equals_source(source, target)) == DAYS
    assert len(_states(target)) == DAYS


def test_a_second_sync_of_an_unchanged_source_writes_nothing(service, source, target):
    service.sync(SPEC, START, END)
    states = _states(target)

    results = service.sync(SPEC, START, END)

    assert set(_outcomes(results).values()) == {PartitionOutcome.UNCHANGED}
    assert _states(target) == states
    _assert_target_equals_source(source, target)


def test_a_restated_day_is_replaced_exactly_and_other_days_are_untouched(
    service, source, target, restate
):
    service.sync(SPEC, START, END)
    columns = _columns(source, SOURCE)
    before, states = _digests(target, TARGET, columns), _states(target)
    day = START + timedelta(days=4)
    old_count = _day_count(source, day)

    delta = restate(day)
    results = service.sync(SPEC, START, END)

    outcomes = _outcomes(results)
    assert outcomes.pop(day.isoformat()) is PartitionOutcome.SYNCED
    assert set(outcomes.values()) == {PartitionOutcome.UNCHANGED}
    restated = next(r for r in results if r.partition == day.isoformat())
    # Keyed replace writes only what differs: unchanged rows stay where they are.
    counts = restated.counts
    assert (counts.deleted, counts.updated, counts.inserted) == (
        delta["removed"],
        delta["changed"],
        delta["added"],
    )
    assert restated.rows_extracted == old_count - delta["removed"] + delta["added"]
    after = _assert_target_equals_source(source, target)
    assert {d: v for d, v in after.items() if d != day} == {
        d: v for d, v in before.items() if d != day
    }
    assert after[day] != before[day]
    new_states = _states(target)
    assert new_states.pop(day.isoformat()) != states.pop(day.isoformat())
    assert new_states == states


def _in(digests: dict, start: date, end: date) -> dict:
    return {day: value for day, value in digests.items() if start <= day < end}


def _assert_window_equal(source, target, start: date, end: date) -> dict:
    columns = _columns(source, SOURCE)
    expected = _in(_digests(source, SOURCE, columns), start, end)
    assert _digests(target, TARGET, columns) == expected
    return expected


def test_upsert_reads_only_changed_and_late_rows_then_reconciles_deletions(
    service, source, target, restate
):
    end = START + timedelta(days=3)
    changed_day, emptied_day = START + timedelta(days=1), START + timedelta(days=2)
    service.sync(UPSERT, START, end)

    late = restate(changed_day, remove_fraction=0, change_fraction=0.05, late_credits=4)
    results = {r.partition: r for r in service.sync(UPSERT, START, end)}

    incremental = results.pop(changed_day.isoformat())
    assert late["changed"] > 0 and late["added"] == 4
    assert incremental.rows_extracted == late["changed"] + late["added"]
    assert incremental.full_window is False
    assert (incremental.counts.inserted, incremental.counts.updated) == (4, late["changed"])
    assert {r.outcome for r in results.values()} == {PartitionOutcome.UNCHANGED}
    _assert_window_equal(source, target, START, end)

    removed = restate(emptied_day, remove_fraction=0.05, change_fraction=0, late_credits=0)
    results = {r.partition: r for r in service.sync(UPSERT, START, end)}

    reconciled = results[emptied_day.isoformat()]
    assert removed["removed"] > 0
    assert reconciled.full_window is True
    assert reconciled.counts.deleted == removed["removed"]
    assert reconciled.rows_extracted == _day_count(source, emptied_day)
    _assert_window_equal(source, target, START, end)


def test_schema_drift_under_fail_policy_lists_every_difference_and_writes_nothing(
    service, source, target
):
    end = START + timedelta(days=2)
    service.sync(STRICT, START, end)
    source.execute(f"ALTER TABLE {SOURCE} ADD COLUMN line_item_extra varchar(20)")
    source.execute(f"ALTER TABLE {SOURCE} ALTER COLUMN pricing_unit TYPE varchar(128)")
    target.execute(f"ALTER TABLE {TARGET} ALTER COLUMN line_item_currency_code TYPE varchar(3)")
    columns = _columns(target, TARGET)
    data, states = _digests(target, TARGET, columns), _states(target)

    with pytest.raises(SchemaMismatchError) as raised:
        service.sync(STRICT, START, end)

    differences = raised.value.differences
    assert len(differences) == 3
    for column in ("line_item_extra", "pricing_unit", "line_item_currency_code"):
        assert sum(f"'{column}'" in d for d in differences) == 1, column
    assert (_digests(target, TARGET, columns), _states(target)) == (data, states)


def test_a_new_source_column_is_added_and_back_filled_under_evolve_policy(service, source, target):
    end = START + timedelta(days=2)
    service.sync(SPEC, START, end)
    source.execute(f"ALTER TABLE {SOURCE} ADD COLUMN line_item_extra varchar(20)")
    source.execute(
        f"UPDATE {SOURCE} SET line_item_extra = left(identity_line_item_id, 6)"
        " WHERE line_item_line_item_type = 'Usage'"
    )

    results = service.sync(SPEC, START, end)

    assert [r.outcome for r in results] == [PartitionOutcome.SYNCED] * 2
    target.execute(f"SELECT count(line_item_extra) FROM {TARGET}")
    assert target.fetchone()[0] > 0
    _assert_window_equal(source, target, START, end)


EXTREMES = """
CREATE SCHEMA billing;
CREATE TABLE billing.extremes (
    id integer NOT NULL,
    usage_day timestamp NOT NULL,
    amount numeric(38,10),
    free numeric,
    ratio double precision,
    at timestamp,
    at_tz timestamptz
);
INSERT INTO billing.extremes VALUES
    (1, '2026-08-03 00:00:00', 9999999999999999999999999999.9999999999,
     123456789012345678901234567890.123456789012345678901, 0.30000000000000004,
     '2026-08-03 00:00:00.000001', '2026-08-03 12:00:00.000001+00'),
    (2, '2026-08-03 23:59:59.999999', -9999999999999999999999999999.9999999999,
     -0.000000000000000000001, -1.7976931348623157e308,
     '2026-08-03 23:59:59.999999', '2026-08-03 23:59:59.999999+05:30'),
    (3, '2026-08-03 10:00:00', 0.0000000001, 1.10, 5e-324,
     '1970-01-01 00:00:00', '9999-12-31 23:59:59.999999+00'),
    (4, '2026-08-03 11:00:00', -0.0000000001, 0, 0,
     '0001-01-01 00:00:00.5', '1900-01-01 00:00:00-08'),
    (5, '2026-08-03 12:00:00', 0, NULL, NULL, NULL, NULL),
    (6, '2026-08-03 13:00:00', 1234.5, -0.5, 1e-7, '2026-02-28 23:59:59.123', NULL)
"""
EXTREMES_TEXT = (
    "SELECT id, usage_day::text, amount::text, free::text, ratio::text, at::text, at_tz::text"
    " FROM {} ORDER BY id"
)


def test_exact_numerics_and_microsecond_timestamps_survive_the_round_trip(
    redshift_emulator, pg_server, source_db, target_db, target
):
    with contextlib.closing(pg_server.connect(source_db)) as conn, conn, conn.cursor() as cur:
        cur.execute("SET timezone TO 'UTC'")
        cur.execute(EXTREMES)
        cur.execute(EXTREMES_TEXT.format("billing.extremes"))
        expected = cur.fetchall()
    spec = TableSpec(
        name="extremes",
        source=TableRef("billing", "extremes"),
        target=TableRef("cost", "extremes"),
        partition_column="usage_day",
        start_date=date(2026, 8, 3),
        measure_column="amount",
    )

    with _service_for(redshift_emulator, pg_server, source_db, target_db) as service:
        (result,) = service.sync(spec, date(2026, 8, 3), date(2026, 8, 4))

    target.execute("SET timezone TO 'UTC'")
    target.execute(EXTREMES_TEXT.format("cost.extremes"))
    assert target.fetchall() == expected
    assert result.rows_extracted == len(expected)
    with localcontext(prec=80):  # the default 28 digits would round the exact sum
        total = sum(Decimal(row[2]) for row in expected if row[2] is not None)
    assert Decimal(result.fingerprint.measure_sum) == total


def test_a_key_column_nullable_in_the_source_is_refused_before_any_write(
    redshift_emulator, pg_server, source_db, target_db, target
):
    with contextlib.closing(pg_server.connect(source_db)) as conn, conn, conn.cursor() as cur:
        cur.execute(
            "CREATE SCHEMA billing;"
            " CREATE TABLE billing.loose (id varchar(10), usage_day timestamp NOT NULL,"
            " cost numeric(12,2));"
            " INSERT INTO billing.loose VALUES ('a', '2026-08-03 01:00', 1.00)"
        )
    spec = TableSpec(
        name="loose",
        source=TableRef("billing", "loose"),
        target=TableRef("cost", "loose"),
        partition_column="usage_day",
        start_date=date(2026, 8, 3),
        mode=SyncMode.UPSERT,
        primary_key=("id",),
    )

    with (
        _service_for(redshift_emulator, pg_server, source_db, target_db) as service,
        pytest.raises(SchemaMismatchError) as raised,
    ):
        service.sync(spec, date(2026, 8, 3), date(2026, 8, 4))

    assert raised.value.differences == ["primary_key column 'id' is nullable in the source"]
    target.execute("SELECT to_regclass('cost.loose'), count(*) FROM qupersync.sync_state")
    assert target.fetchone() == (None, 0)


def test_a_month_of_cur_syncs_exactly_then_skips_and_follows_a_restatement(
    redshift_emulator, pg_server, source_db, target_db, target
):
    """The Foundation's acceptance check, at a size that fits the test-suite."""
    days, end = 30, START + timedelta(days=30)
    _generate(pg_server, source_db, days=days, rows=3_000)
    with contextlib.closing(pg_server.connect(source_db)) as conn:
        conn.autocommit = True
        source = conn.cursor()
        with _service_for(redshift_emulator, pg_server, source_db, target_db) as service:
            first = service.sync(SPEC, START, end)
            assert [r.outcome for r in first] == [PartitionOutcome.SYNCED] * days
            before = _assert_window_equal(source, target, START, end)

            second = service.sync(SPEC, START, end)
            assert [r.outcome for r in second] == [PartitionOutcome.UNCHANGED] * days

            day = START + timedelta(days=17)
            cur_data.restate_day(conn, "billing", "cur_line_items", day)
            third = _outcomes(service.sync(SPEC, START, end))

        assert third.pop(day.isoformat()) is PartitionOutcome.SYNCED
        assert set(third.values()) == {PartitionOutcome.UNCHANGED}
        after = _assert_window_equal(source, target, START, end)
        assert after[day] != before[day]
        assert {d: v for d, v in after.items() if d != day} == {
            d: v for d, v in before.items() if d != day
        }
