"""Float costs through the real driver, from a source that renders floats as Redshift does.

The source database's default is ``extra_float_digits = 0``, Redshift's own: a float cast to text
there has 15 significant digits, so any rendering that relies on the session rounds costs. Values
are compared on both sides as float8 (their IEEE bits), never as text; fingerprints must not
depend on the order rows lie in, which on a cluster changes from run to run.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from qupersync_dagster.domain.entities import PartitionOutcome, TableRef, TableSpec
from qupersync_dagster.domain.services.sync_service import SyncService
from qupersync_dagster.infrastructure.postgres.repository import PostgresTargetRepository
from qupersync_dagster_tests.repositories import postgres_engine, redshift_source
from qupersync_dagster_tests.tables import float_measure_units, redshift_float_digits

pytestmark = pytest.mark.integration

DAY = date(2026, 8, 3)
FETCH_SIZE = 4
SPEC = TableSpec(
    name="floats",
    source=TableRef("billing", "floats"),
    target=TableRef("cost", "floats"),
    partition_column="usage_start",
    start_date=DAY,
    primary_key=("id",),
    measure_column="cost",
)
# (double precision, real): signed zeros, subnormals, the smallest normals, values that need 17
# (double) or 9 (real) significant digits, the extremes, infinities and NaN (PostgreSQL and
# Redshift floats both hold them, so they must travel too), NULL.
VALUES = [
    ("-0", "-0"),
    ("0", "0"),
    ("4.9406564584124654e-324", "1.40129846e-45"),
    ("-4.9406564584124654e-324", "-1.40129846e-45"),
    ("2.225073858507201e-308", "1.17549421e-38"),
    ("2.2250738585072014e-308", "1.17549435e-38"),
    ("0.30000000000000004", "0.100000001"),
    ("123456.78901234567", "16777217"),
    ("-0.0000000001", "3.40282347e38"),
    ("1.7976931348623157e308", "-3.40282347e38"),
    ("Infinity", "Infinity"),
    ("-Infinity", "-Infinity"),
    ("NaN", "NaN"),
    (None, None),
]
# Values whose float sum depends on the order they are added in.
CANCELLING = ["1e16", "1", "-1e16", "0.1", "0.2", "-0.3", "123456.78901234567", "5e-324"] * 25


def _create(cur, table: str, costs: list[tuple]) -> None:
    cur.execute(
        f"CREATE TABLE billing.{table} (id integer NOT NULL, usage_start timestamp NOT NULL,"
        " cost double precision, ratio real)"
    )
    start = datetime.combine(DAY, datetime.min.time())
    cur.executemany(
        f"INSERT INTO billing.{table} VALUES (%s, %s, %s::float8, %s::real)",
        [(i, start + timedelta(minutes=i), cost, ratio) for i, (cost, ratio) in costs],
    )


@pytest.fixture
def source_cursor(pg_server, source_db):
    """A cursor on the source database, whose default is Redshift's ``extra_float_digits``."""
    with redshift_float_digits(pg_server, source_db) as cur:
        cur.execute("CREATE SCHEMA billing")
        yield cur


@pytest.fixture
def source(redshift_emulator, pg_server, source_db):
    with redshift_source(redshift_emulator, pg_server, source_db, FETCH_SIZE) as repository:
        yield repository


def _bits(server, database: str, table: str) -> list[tuple]:
    with contextlib.closing(server.connect(database)) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT id, float8send(cost), float4send(ratio) FROM {table} ORDER BY id")
        return [(i, cost and bytes(cost), ratio and bytes(ratio)) for i, cost, ratio in cur]


def test_every_float_arrives_bit_for_bit(source_cursor, source, pg_server, source_db, target_db):
    _create(source_cursor, "floats", list(enumerate(VALUES)))
    with postgres_engine(pg_server, target_db) as engine:
        results = SyncService(source, PostgresTargetRepository(engine)).sync(
            SPEC, DAY, DAY + timedelta(days=1)
        )

    assert [r.outcome for r in results] == [PartitionOutcome.SYNCED]
    expected = _bits(pg_server, source_db, "billing.floats")
    assert len(expected) == len(VALUES)
    assert _bits(pg_server, target_db, "cost.floats") == expected


def _fingerprint(source, spec: TableSpec):
    schema = source.describe(spec.source)
    return source.fingerprints(spec, schema, DAY, DAY + timedelta(days=1))[DAY]


def test_an_unchanged_float_day_fingerprints_the_same_whatever_the_row_order(source_cursor, source):
    rows = [(i, (cost, None)) for i, cost in enumerate(CANCELLING)]
    _create(source_cursor, "floats", rows)
    _create(source_cursor, "reversed", list(reversed(rows)))
    reversed_spec = replace(SPEC, source=TableRef("billing", "reversed"))

    fingerprints = [_fingerprint(source, SPEC) for _ in range(5)]

    assert len(set(fingerprints)) == 1
    assert _fingerprint(source, reversed_spec) == fingerprints[0]
    expected = float_measure_units(float(cost) for cost in CANCELLING)
    assert fingerprints[0].measure_sum == str(expected)


def test_a_changed_float_cost_changes_the_fingerprint(source_cursor, source):
    _create(source_cursor, "floats", [(i, (cost, None)) for i, cost in enumerate(CANCELLING)])
    before = _fingerprint(source, SPEC)

    source_cursor.execute("UPDATE billing.floats SET cost = cost + 1e-10 WHERE id = 3")

    after = _fingerprint(source, SPEC)
    assert after.row_count == before.row_count
    assert after.measure_sum != before.measure_sum
