"""What a real Redshift does differently from PostgreSQL must not change what arrives.

Each scenario syncs through the real driver and the Redshift-strict wire emulator, then reads both
ends with psycopg2 and compares them cell for cell: session defaults a user or parameter group
may set, values ending in blanks (Redshift's ``CHR`` returns CHAR), a SUPER value larger than
``JSON_SERIALIZE`` can return, a single-node cluster's FETCH limit and a cluster's cap on a
cursor's result; and sources only Redshift's own catalogue lists (a late-binding view, a
Spectrum external table).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest
import redshift_connector
from psycopg2 import sql

from qupersync_dagster.devkit.redshift_emulator import RedshiftWireEmulator
from qupersync_dagster.devkit.redshift_emulator.catalogue_fixtures import (
    create_external_table,
    create_late_binding_view,
)
from qupersync_dagster.domain.entities import (
    PartitionOutcome,
    PartitionWindow,
    TableRef,
    TableSpec,
    WindowRead,
)
from qupersync_dagster.domain.errors import SourceUnavailableError
from qupersync_dagster.domain.services.sync_service import SyncService
from qupersync_dagster.infrastructure.postgres.repository import PostgresTargetRepository
from qupersync_dagster.infrastructure.redshift.sql import SINGLE_NODE_FETCH_LIMIT
from qupersync_dagster_tests.repositories import postgres_engine, redshift_source

pytestmark = pytest.mark.integration

DAY = date(2026, 10, 1)  # day and month both <= 12: a DMY/MDY mix-up is silent
END = DAY + timedelta(days=2)
COLUMNS = (
    ("id", "integer NOT NULL"),
    ("usage_start", "timestamp NOT NULL"),
    ("label", "varchar(40)"),
    ("fixed", "char(6)"),
    ("cost", "numeric(20,6)"),
    ("seen", "timestamptz"),
    ("on_day", "date"),
    ("tags", "json"),  # the emulator's stand-in for SUPER
)
NAMES = tuple(name for name, _ in COLUMNS)
SPEC = TableSpec(
    name="fidelity",
    source=TableRef("lab", "fidelity"),
    target=TableRef("mirror", "fidelity"),
    partition_column="usage_start",
    start_date=DAY,
    primary_key=("id",),
    measure_column="cost",
)


@contextlib.contextmanager
def _service(pg_server, emulator, source_db, target_db, fetch_size=3) -> Iterator[SyncService]:
    with (
        redshift_source(emulator, pg_server, source_db, fetch_size) as source,
        postgres_engine(pg_server, target_db) as engine,
    ):
        yield SyncService(source, PostgresTargetRepository(engine))


def _insert(server, database: str, rows: list[tuple]) -> None:
    with contextlib.closing(server.connect(database)) as conn, conn, conn.cursor() as cursor:
        cursor.execute("CREATE SCHEMA IF NOT EXISTS lab")
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS lab.fidelity ("
            + ", ".join(f"{name} {kind}" for name, kind in COLUMNS)
            + ")"
        )
        cursor.executemany(
            f"INSERT INTO lab.fidelity VALUES ({', '.join(['%s'] * len(COLUMNS))})", rows
        )


def _read(server, database: str, table: str) -> list[tuple]:
    """Every row, in a form where equal means identical (times in UTC, JSON as its text)."""
    query = sql.SQL("SELECT {} FROM {} ORDER BY id").format(
        sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(name)) for name in NAMES),
        sql.SQL(table),
    )
    with contextlib.closing(server.connect(database)) as conn, conn.cursor() as cursor:
        cursor.execute("SET timezone TO 'UTC'")
        cursor.execute("SET datestyle TO 'ISO, MDY'")
        cursor.execute(query)
        return cursor.fetchall()


def _row(i: int, day: date = DAY, **values) -> tuple:
    base = {
        "id": i,
        "usage_start": datetime.combine(day, datetime.min.time()) + timedelta(hours=i % 24),
        "label": f"line {i}",
        "fixed": "ab",
        "cost": f"{i}.000123",
        "seen": datetime.combine(day, datetime.min.time()).isoformat() + "+00",
        "on_day": day,
        "tags": json.dumps({"team": f"t{i % 3}"}),
    }
    return tuple((base | values)[name] for name in NAMES)


def _sync(pg_server, emulator, source_db, target_db, spec=SPEC, **service) -> list:
    with _service(pg_server, emulator, source_db, target_db, **service) as sync:
        return sync.sync(spec, DAY, END)


def _assert_mirrored(pg_server, source_db, target_db) -> None:
    assert _read(pg_server, target_db, "mirror.fidelity") == _read(
        pg_server, source_db, "lab.fidelity"
    )


def test_costs_land_on_their_own_day_whatever_the_source_session_defaults(
    pg_server, redshift_emulator, source_db, target_db
):
    # A parameter group or ALTER USER may set any of these; only pinning them keeps the text.
    with contextlib.closing(pg_server.connect(source_db)) as conn, conn.cursor() as cursor:
        conn.autocommit = True
        for setting, value in (
            ("datestyle", "SQL, DMY"),
            ("timezone", "Pacific/Kiritimati"),
            ("extra_float_digits", "0"),
        ):
            cursor.execute(
                sql.SQL("ALTER DATABASE {} SET {} = {}").format(
                    sql.Identifier(source_db), sql.Identifier(setting), sql.Literal(value)
                )
            )
    _insert(pg_server, source_db, [_row(i) for i in range(5)] + [_row(9, DAY + timedelta(1))])

    results = _sync(pg_server, redshift_emulator, source_db, target_db)

    assert [(r.partition, r.rows_extracted) for r in results] == [
        ("2026-10-01", 5),
        ("2026-10-02", 1),
    ]
    _assert_mirrored(pg_server, source_db, target_db)


def test_varchar_values_ending_in_blanks_keep_every_blank(
    pg_server, redshift_emulator, source_db, target_db
):
    labels = ["trailing   ", "   ", " ", "tab\t ", "back\\ ", "\\N ", "x \n ", ""]
    _insert(pg_server, source_db, [_row(i, label=label) for i, label in enumerate(labels)])

    _sync(pg_server, redshift_emulator, source_db, target_db)

    _assert_mirrored(pg_server, source_db, target_db)
    stored = [row[NAMES.index("label")] for row in _read(pg_server, target_db, "mirror.fidelity")]
    assert stored == labels


def test_a_super_value_larger_than_json_serialize_returns_syncs_whole(
    pg_server, redshift_emulator, source_db, target_db
):
    # JSON_SERIALIZE refuses more than 64 KB; a SUPER may hold 16 MB (a big tag map does).
    large = {f"user:tag-{n}": "value\t" + "x" * 40 for n in range(3_000)}
    assert len(json.dumps(large)) > 65_535
    _insert(
        pg_server,
        source_db,
        [_row(1, tags=json.dumps(large)), _row(2), _row(3, tags=json.dumps({"a": "b" * 9_000}))],
    )

    results = _sync(pg_server, redshift_emulator, source_db, target_db)

    assert results[0].outcome is PartitionOutcome.SYNCED
    _assert_mirrored(pg_server, source_db, target_db)


def test_a_day_larger_than_a_single_node_fetch_syncs_in_fetches_the_cluster_allows(
    pg_server, redshift_emulator, source_db, target_db
):
    rows = 2 * SINGLE_NODE_FETCH_LIMIT + 500
    _insert(pg_server, source_db, [_row(i) for i in range(rows)])

    with redshift_source(redshift_emulator, pg_server, source_db, 5_000) as source:
        assert source.fetch_limit() == SINGLE_NODE_FETCH_LIMIT
    results = _sync(pg_server, redshift_emulator, source_db, target_db, fetch_size=5_000)

    assert results[0].rows_extracted == rows
    _assert_mirrored(pg_server, source_db, target_db)


def test_a_fetch_refused_by_a_single_node_fails_retryably_and_the_retry_reads_at_its_limit(
    pg_server, redshift_emulator, source_db
):
    _insert(pg_server, source_db, [_row(i) for i in range(2 * SINGLE_NODE_FETCH_LIMIT + 1)])
    with redshift_source(redshift_emulator, pg_server, source_db, 5_000) as source:
        schema = source.describe(SPEC.source)
        source._fetch_limit = 5_000  # as if STV_SLICES had shown several nodes
        with pytest.raises(SourceUnavailableError, match="at most 1000 rows") as refused:
            list(source.stream(WindowRead(SPEC, schema, PartitionWindow.day(DAY))))
        assert refused.value.retryable

        batches = list(source.stream(WindowRead(SPEC, schema, PartitionWindow.day(DAY))))

    assert sum(batch.rows for batch in batches) == 2 * SINGLE_NODE_FETCH_LIMIT + 1
    assert max(batch.rows for batch in batches) == SINGLE_NODE_FETCH_LIMIT


def test_a_multi_node_cluster_keeps_the_configured_fetch_size(pg_server, source_db):
    with (
        RedshiftWireEmulator(pg_server, single_node=False) as cluster,
        redshift_source(cluster, pg_server, source_db, 5_000) as source,
    ):
        assert source.fetch_limit() == 5_000


def test_a_cluster_that_does_not_show_its_nodes_is_read_as_a_single_node(pg_server, source_db):
    # Without the compat catalogue there is no STV_SLICES: the safe limit, never a failure.
    with (
        RedshiftWireEmulator(pg_server, strict=False) as cluster,
        redshift_source(cluster, pg_server, source_db, 5_000) as source,
    ):
        assert source.fetch_limit() == SINGLE_NODE_FETCH_LIMIT


CURSOR_CAP = 60_000  # bytes; the day below renders to about three times as much


def test_a_day_larger_than_the_cluster_cursor_cap_syncs_whole_through_several_cursors(
    pg_server, source_db, target_db
):
    rows = [_row(i, label=f"{i:>10} " + "x" * 28) for i in range(24 * 40)]  # 40 rows an hour
    _insert(pg_server, source_db, rows)
    budget = replace(SPEC, cursor_budget_rows=240)  # six hours: a third of the cap

    with RedshiftWireEmulator(pg_server, cursor_bytes_cap=CURSOR_CAP) as capped:
        with pytest.raises(redshift_connector.Error, match="cursor result set size"):
            _sync(pg_server, capped, source_db, target_db)
        results = _sync(pg_server, capped, source_db, target_db, spec=budget, fetch_size=100)

    assert [(r.outcome, r.rows_extracted) for r in results] == [
        (PartitionOutcome.SYNCED, len(rows)),
        (PartitionOutcome.SYNCED, 0),
    ]
    _assert_mirrored(pg_server, source_db, target_db)


@pytest.mark.parametrize(
    "create", [create_late_binding_view, create_external_table], ids=["late_binding", "external"]
)
def test_a_source_information_schema_does_not_list_syncs_as_an_ordinary_table(
    create, pg_server, redshift_emulator, source_db, target_db
):
    _insert(pg_server, source_db, [_row(i, label=f"v{i} ") for i in range(30)])
    with contextlib.closing(pg_server.connect(source_db)) as conn:
        create(conn, "spectrum", "fidelity_lines", "SELECT * FROM lab.fidelity")
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = 'spectrum'"
            )
            assert cursor.fetchone() == (0,)
    # Neither kind declares NOT NULL, so no column can serve as the target's primary key.
    spec = replace(SPEC, source=TableRef("spectrum", "fidelity_lines"), primary_key=())

    results = _sync(pg_server, redshift_emulator, source_db, target_db, spec=spec)

    assert [r.rows_extracted for r in results] == [30, 0]
    _assert_mirrored(pg_server, source_db, target_db)
