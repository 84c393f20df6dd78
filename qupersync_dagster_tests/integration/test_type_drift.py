"""Source columns that change type after the first sync: widen when safe, refuse otherwise.

CUR loaders widen varchar columns and change numeric scales from one delivery to the next. Under
``schema_policy: evolve`` the target must be widened so every value still arrives exactly (and the
days already mirrored are re-read, since their schema signature changed); under ``fail``, and for
any change no widening can make safe, the run must stop before writing, listing every difference.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest

from qupersync_dagster.domain.entities import (
    PartitionOutcome,
    SchemaPolicy,
    SyncMode,
    TableRef,
    TableSpec,
)
from qupersync_dagster.domain.errors import SchemaMismatchError
from qupersync_dagster_tests.repositories import sync_service

pytestmark = pytest.mark.integration

DAY = date(2026, 5, 1)
END = DAY + timedelta(days=2)
SPEC = TableSpec(
    name="drifting",
    source=TableRef("lab", "drifting"),
    target=TableRef("mirror", "drifting"),
    partition_column="day",
    start_date=DAY,
    mode=SyncMode.UPSERT,
    primary_key=("id",),
    measure_column="amount",
)

STRICT = replace(SPEC, schema_policy=SchemaPolicy.FAIL)
COLUMNS = ("id", "day", "label", "amount")


@pytest.fixture
def drifting(pg_server, source_db):
    """Two days of rows with a varchar(12) label and a numeric(12,2) amount, both at their limit."""
    with contextlib.closing(pg_server.connect(source_db)) as conn:
        with conn, conn.cursor() as cursor:
            cursor.execute("CREATE SCHEMA lab")
            cursor.execute(
                "CREATE TABLE lab.drifting (id integer NOT NULL, day timestamp NOT NULL,"
                " label varchar(12), amount numeric(12,2))"
            )
            cursor.execute(
                "INSERT INTO lab.drifting VALUES (1, %s, 'twelve chars', 9999999999.99),"
                " (2, %s, NULL, -0.01)",
                (DAY, DAY + timedelta(days=1)),
            )
        yield conn


def _service(pg_server, redshift_emulator, source_db, target_db):
    return sync_service(redshift_emulator, pg_server, source_db, target_db, fetch_size=100)


def _rows(server, database: str, table: str) -> list[tuple]:
    with contextlib.closing(server.connect(database)) as conn, conn.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(COLUMNS)} FROM {table} ORDER BY id")
        return [tuple(str(v) if isinstance(v, Decimal) else v for v in r) for r in cursor]


def _types(server, database: str, table: str) -> dict[str, str]:
    with contextlib.closing(server.connect(database)) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
            " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
            (table,),
        )
        return dict(cursor.fetchall())


def _drift(conn, *statements: str) -> None:
    with conn, conn.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


WIDEN = (
    "ALTER TABLE lab.drifting ALTER COLUMN label TYPE varchar(64)",
    "ALTER TABLE lab.drifting ALTER COLUMN amount TYPE numeric(14,4)",
    "INSERT INTO lab.drifting VALUES (3, '2026-05-02 23:59:59.999999',"
    " 'a label far longer than twelve characters', 12345678.9999)",
)


def test_evolve_widens_varchar_and_numeric_and_every_value_arrives_exactly(
    drifting, pg_server, redshift_emulator, source_db, target_db
):
    with _service(pg_server, redshift_emulator, source_db, target_db) as service:
        service.sync(SPEC, DAY, END)
        _drift(drifting, *WIDEN)
        results = service.sync(SPEC, DAY, END)

    assert [r.outcome for r in results] == [PartitionOutcome.SYNCED] * 2  # new signature
    target = _types(pg_server, target_db, "mirror.drifting")
    source = _types(pg_server, source_db, "lab.drifting")
    assert (target["label"], target["amount"]) == (source["label"], source["amount"])
    assert _rows(pg_server, target_db, "mirror.drifting") == _rows(
        pg_server, source_db, "lab.drifting"
    )


def test_evolve_widens_a_scale_change_that_keeps_the_precision(
    drifting, pg_server, redshift_emulator, source_db, target_db
):
    """numeric(12,2) to numeric(12,4): two more decimals, two fewer whole digits at the source.

    The target keeps every whole digit it already holds and gains the decimals: numeric(14,4).
    """
    with _service(pg_server, redshift_emulator, source_db, target_db) as service:
        service.sync(SPEC, DAY, END)
        _drift(
            drifting,
            "DELETE FROM lab.drifting WHERE id = 1",
            "ALTER TABLE lab.drifting ALTER COLUMN amount TYPE numeric(12,4)",
            "INSERT INTO lab.drifting VALUES (4, '2026-05-01', 'four places', -99999999.9999)",
        )
        service.sync(SPEC, DAY, END)

    assert _types(pg_server, target_db, "mirror.drifting")["amount"] == "numeric(14,4)"
    assert _rows(pg_server, target_db, "mirror.drifting") == _rows(
        pg_server, source_db, "lab.drifting"
    )


def test_policy_fail_refuses_the_drift_listing_every_difference_and_writes_nothing(
    drifting, pg_server, redshift_emulator, source_db, target_db
):
    with _service(pg_server, redshift_emulator, source_db, target_db) as service:
        service.sync(STRICT, DAY, END)
        before = (
            _types(pg_server, target_db, "mirror.drifting"),
            _rows(pg_server, target_db, "mirror.drifting"),
        )
        _drift(drifting, *WIDEN)
        with pytest.raises(SchemaMismatchError) as failure:
            service.sync(STRICT, DAY, END)

    assert failure.value.table == "drifting"
    assert failure.value.differences == [
        "column 'label': target type varchar(12) cannot hold source type varchar(64)",
        "column 'amount': target type numeric(12,2) cannot hold source type numeric(14,4)",
    ]
    assert (
        _types(pg_server, target_db, "mirror.drifting"),
        _rows(pg_server, target_db, "mirror.drifting"),
    ) == before


def test_evolve_refuses_a_change_of_kind_that_no_widening_makes_safe(
    drifting, pg_server, redshift_emulator, source_db, target_db
):
    with _service(pg_server, redshift_emulator, source_db, target_db) as service:
        service.sync(SPEC, DAY, END)
        before = _rows(pg_server, target_db, "mirror.drifting")
        _drift(drifting, "ALTER TABLE lab.drifting ALTER COLUMN amount TYPE double precision")
        with pytest.raises(SchemaMismatchError) as failure:
            service.sync(SPEC, DAY, END)

    assert failure.value.differences == [
        "column 'amount': target type numeric(12,2) cannot hold source type double"
    ]
    assert _rows(pg_server, target_db, "mirror.drifting") == before
