"""What only a real Redshift can prove, run against one when named (``pytest -m redshift``).

Each test reads a table of its own through the real driver (DECLARE/FETCH) into the embedded
PostgreSQL with the sync itself. The ``cluster`` variant needs ``REDSHIFT_TEST_*`` (see
``real_cluster``) and is skipped without; the ``emulator`` variant runs the same code everywhere.
"""

from __future__ import annotations

import contextlib
import json
import struct
from datetime import date, timedelta

import pytest

from qupersync_dagster.domain.entities import (
    PartitionWindow,
    SyncMode,
    TableRef,
    TableSpec,
    WindowRead,
)
from qupersync_dagster.domain.services.sync_service import SyncService
from qupersync_dagster.infrastructure.postgres.repository import PostgresTargetRepository
from qupersync_dagster.infrastructure.redshift.connector import connect
from qupersync_dagster.infrastructure.redshift.repository import RedshiftSourceRepository
from qupersync_dagster.infrastructure.redshift.sql import table_name
from qupersync_dagster_tests.infrastructure.redshift.real_cluster import (
    Source,
    cluster_from_environment,
    emulated,
    insert,
    scratch_table,
)
from qupersync_dagster_tests.repositories import postgres_engine

DAY = date(2026, 10, 1)
SINGLE_NODE_FETCH = 1_000
DOUBLES = [
    0.1,
    1 / 3,
    0.30000000000000004,
    2.2250738585072014e-308,  # the smallest normal double: 17 significant digits
    4.9406564584124654e-324,  # the smallest subnormal
    1.7976931348623157e308,
    -0.0,
    0.0,
    -123456789.12345679,
]


@pytest.fixture(
    params=[
        pytest.param("cluster", marks=pytest.mark.redshift),
        pytest.param("emulator", marks=pytest.mark.integration),
    ]
)
def source(request) -> Source:
    if request.param == "cluster":
        return cluster_from_environment()
    server = request.getfixturevalue("pg_server")
    return emulated(
        request.getfixturevalue("redshift_emulator"), server, request.getfixturevalue("source_db")
    )


@pytest.fixture
def target(pg_server, target_db):
    with postgres_engine(pg_server, target_db) as engine:
        yield engine


@contextlib.contextmanager
def _reader(source: Source):
    repository = RedshiftSourceRepository(lambda: connect(source.settings), SINGLE_NODE_FETCH)
    try:
        yield repository
    finally:
        repository.close()


def _spec(ref: TableRef, measure: str | None = None) -> TableSpec:
    return TableSpec(
        name=ref.name,
        source=ref,
        target=TableRef("mirror", ref.name),
        partition_column="day",
        start_date=DAY,
        mode=SyncMode.REPLACE,
        measure_column=measure,
    )


def _sync_day(source: Source, target, spec: TableSpec, columns: str = "*") -> list[tuple]:
    """Sync ``DAY`` of ``spec``; the target's ``columns`` of its rows, ordered by id."""
    with _reader(source) as reader:
        SyncService(reader, PostgresTargetRepository(target)).sync(spec, DAY, DAY + timedelta(1))
    table = f'"mirror"."{spec.target.name}"'
    with target.connect() as conn:
        return [
            tuple(r) for r in conn.exec_driver_sql(f"SELECT {columns} FROM {table} ORDER BY id")
        ]


def _real(value: float) -> float | None:
    """``value`` when a REAL holds it without overflow or underflow, else NULL."""
    return value if value == 0 or 1e-37 < abs(value) < 3e38 else None


def test_a_day_of_several_fetches_arrives_whole_through_declare_and_fetch(source, target):
    with scratch_table(source, "id BIGINT NOT NULL, day DATE NOT NULL") as (cursor, ref):
        insert(cursor, ref, [(i, DAY) for i in range(40)])
        for step in range(6):  # 40 * 2**6 = 2,560 rows: three FETCHes at the single-node limit
            table = table_name(ref)
            cursor.execute(f"INSERT INTO {table} SELECT id + {40 << step}, day FROM {table}")
        spec = _spec(ref)
        with _reader(source) as reader:
            batches = list(
                reader.stream(WindowRead(spec, reader.describe(ref), PartitionWindow.day(DAY)))
            )
        mirrored = _sync_day(source, target, spec, "id")
    assert sum(batch.rows for batch in batches) == 2_560
    assert max(batch.rows for batch in batches) <= SINGLE_NODE_FETCH and len(batches) >= 3
    assert mirrored == [(i,) for i in range(2_560)]


def test_doubles_and_reals_round_trip_bit_for_bit(source, target):
    columns = "id INTEGER NOT NULL, day DATE NOT NULL, cost DOUBLE PRECISION, rate REAL"
    rows = [(i, DAY, value, _real(value)) for i, value in enumerate(DOUBLES)]
    with scratch_table(source, columns) as (cursor, ref):
        insert(cursor, ref, rows)
        mirrored = _sync_day(source, target, _spec(ref), "id, float8send(cost), float4send(rate)")
    expected = [
        (i, struct.pack(">d", cost), None if rate is None else struct.pack(">f", rate))
        for i, _, cost, rate in rows
    ]
    assert [(i, bytes(cost), rate and bytes(rate)) for i, cost, rate in mirrored] == expected


def test_trailing_blanks_survive_in_varchar_and_char(source, target):
    columns = "id INTEGER NOT NULL, day DATE NOT NULL, note VARCHAR(20), code CHAR(6)"
    rows = [
        (0, DAY, "a  ", "ab"),
        (1, DAY, "   ", "abcdef"),
        (2, DAY, " x ", " "),
        (3, DAY, "", ""),
    ]
    with scratch_table(source, columns) as (cursor, ref):
        insert(cursor, ref, rows)
        mirrored = _sync_day(source, target, _spec(ref), "id, note, code")
    assert mirrored == [(i, note, code.ljust(6)) for i, _, note, code in rows]


def test_super_values_arrive_as_the_same_json(source, target):
    documents = [
        {"user:team": "data", "n": [1, 2.5, None], "nested": {"ok": True}},
        {"long": "x" * 10_000},  # longer than a value rendered in its group: travels raw
        [],
        'tab\tnew\nline \\ quote"',
    ]
    columns = f"id INTEGER NOT NULL, day DATE NOT NULL, tags {source.super_type}"
    with scratch_table(source, columns) as (cursor, ref):
        rows = [(i, DAY, json.dumps(document)) for i, document in enumerate(documents)]
        insert(cursor, ref, rows + [(len(rows), DAY, None)], f"%s, %s, {source.super_value}")
        mirrored = _sync_day(source, target, _spec(ref), "id, CAST(tags AS text)")
    assert [json.loads(text) if text else None for _, text in mirrored] == [*documents, None]


def test_the_fingerprint_of_an_unchanged_day_is_the_same_five_times(source):
    columns = "id INTEGER NOT NULL, day DATE NOT NULL, cost DOUBLE PRECISION"
    rows = [(i, DAY, DOUBLES[i % len(DOUBLES)] / (i + 1)) for i in range(300)]
    with scratch_table(source, columns) as (cursor, ref):
        insert(cursor, ref, [row for row in rows if abs(row[2]) < 1e300])
        spec = _spec(ref, measure="cost")
        with _reader(source) as reader:
            schema = reader.describe(ref)
            found = [reader.fingerprints(spec, schema, DAY, DAY + timedelta(1)) for _ in range(5)]
    assert all(each == found[0] for each in found)
    assert found[0][DAY].row_count == len([row for row in rows if abs(row[2]) < 1e300])
