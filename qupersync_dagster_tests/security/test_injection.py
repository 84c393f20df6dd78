"""Names that try SQL injection are refused by config validation or quoted so they cannot act.

Table and key names come from the YAML and are refused unless they are plain identifiers. Other
column names come from the source catalogue and can be anything PostgreSQL accepts when quoted,
so the sync must carry them through as quoted identifiers. The proof that nothing else ran is
kept in each database: a canary table the payloads aim at, which must keep its rows, and an
event-trigger log of every DDL command, which must show only what the sync is meant to create.
"""

from __future__ import annotations

import contextlib
from datetime import date, timedelta
from decimal import Decimal

import pytest
import yaml
from psycopg2 import sql

from qupersync_dagster.devkit.redshift_emulator import compat
from qupersync_dagster.domain.entities import SyncMode, TableRef, TableSpec
from qupersync_dagster.domain.errors import ConfigError
from qupersync_dagster.infrastructure.table_list import load_table_list
from qupersync_dagster_tests.repositories import sync_service

pytestmark = pytest.mark.integration

DAY = date(2026, 6, 1)
HOSTILE_COLUMNS = (
    'a"b',
    'x"; DROP TABLE public.canary; --',
    "y'); DELETE FROM public.canary; --",
    "with space",
    "it's",
    "-- comment",
    "/* block */ z",
    "semi;colon",
    "UPPER and lower",
)

CANARY_ROWS = [(1, "first"), (2, "second"), (3, "third")]

DDL_AUDIT = """
CREATE TABLE public.ddl_audit (tag text, object text);
CREATE FUNCTION public.audit_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  FOR r IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
    INSERT INTO public.ddl_audit VALUES (r.command_tag, r.object_identity);
  END LOOP;
END $$;
CREATE FUNCTION public.audit_drop() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  FOR r IN SELECT * FROM pg_event_trigger_dropped_objects() LOOP
    INSERT INTO public.ddl_audit VALUES ('DROP', r.object_identity);
  END LOOP;
END $$;
CREATE EVENT TRIGGER audit_ddl ON ddl_command_end EXECUTE FUNCTION public.audit_ddl();
CREATE EVENT TRIGGER audit_drop ON sql_drop EXECUTE FUNCTION public.audit_drop();
"""


def _guard(server, database: str) -> None:
    """A canary with rows, then the DDL log: from here on every DDL command is recorded."""
    with contextlib.closing(server.connect(database)) as conn, conn, conn.cursor() as cursor:
        cursor.execute("CREATE TABLE public.canary (id integer PRIMARY KEY, note text)")
        cursor.executemany("INSERT INTO public.canary VALUES (%s, %s)", CANARY_ROWS)
        cursor.execute(DDL_AUDIT)


def _read(server, database: str, query: str | sql.Composable) -> list[tuple]:
    with contextlib.closing(server.connect(database)) as conn, conn.cursor() as cursor:
        cursor.execute(query)
        return cursor.fetchall()


def _rows(server, database: str, schema: str, names: list[str]) -> list[tuple]:
    query = sql.SQL("SELECT {} FROM {} ORDER BY id").format(
        sql.SQL(", ").join(map(sql.Identifier, names)), sql.Identifier(schema, "hostile")
    )
    return _read(server, database, query)


@pytest.fixture
def hostile_source(pg_server, source_db, target_db):
    columns = [("id", "integer NOT NULL"), ("day", "timestamp NOT NULL")]
    columns += [(name, "varchar(40)") for name in HOSTILE_COLUMNS]
    columns.append(("cost", "numeric(12,2)"))
    with contextlib.closing(pg_server.connect(source_db)) as conn, conn, conn.cursor() as cursor:
        cursor.execute("CREATE SCHEMA lab")
        cursor.execute(
            sql.SQL("CREATE TABLE lab.hostile ({})").format(
                sql.SQL(", ").join(
                    sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind))
                    for name, kind in columns
                )
            )
        )
        cursor.executemany(
            sql.SQL("INSERT INTO lab.hostile VALUES ({})").format(
                sql.SQL(", ").join(sql.Placeholder() * len(columns))
            ),
            [
                (i, DAY + timedelta(hours=i), *(f"{i}:{name}"[:40] for name in HOSTILE_COLUMNS),
                 Decimal(i) / 4)
                for i in range(1, 6)
            ],
        )  # fmt: skip
    with contextlib.closing(pg_server.connect(source_db)) as conn:
        compat.install(conn)  # the emulator's Redshift catalogue, installed before the audit
    _guard(pg_server, source_db)
    _guard(pg_server, target_db)
    return [name for name, _ in columns]


def _spec(mode: SyncMode) -> TableSpec:
    return TableSpec(
        name="hostile",
        source=TableRef("lab", "hostile"),
        target=TableRef("mirror", "hostile"),
        partition_column="day",
        start_date=DAY,
        mode=mode,
        primary_key=("id",),
        measure_column="cost",
    )


ALLOWED_TARGET_DDL = {
    ("CREATE SCHEMA", "mirror"),
    ("CREATE TABLE", "mirror.hostile"),
    ("CREATE INDEX", "mirror.hostile_day_idx"),
    ("CREATE SCHEMA", "qupersync"),
    ("CREATE TABLE", "qupersync.sync_state"),
}


@pytest.mark.parametrize("mode", [SyncMode.REPLACE, SyncMode.UPSERT])
def test_hostile_column_names_round_trip_and_nothing_else_runs(
    mode, hostile_source, pg_server, redshift_emulator, source_db, target_db
):
    with sync_service(redshift_emulator, pg_server, source_db, target_db, fetch_size=2) as service:
        service.sync(_spec(mode), DAY, DAY + timedelta(days=1))
        service.sync(_spec(mode), DAY, DAY + timedelta(days=1), force=True)

    target_columns = _read(
        pg_server,
        target_db,
        "SELECT attname FROM pg_attribute WHERE attrelid = 'mirror.hostile'::regclass"
        " AND attnum > 0 ORDER BY attnum",
    )
    assert [name for (name,) in target_columns] == hostile_source
    source_rows = _rows(pg_server, source_db, "lab", hostile_source)
    assert len(source_rows) == 5
    assert _rows(pg_server, target_db, "mirror", hostile_source) == source_rows

    for database in (source_db, target_db):
        assert _read(pg_server, database, "SELECT * FROM public.canary ORDER BY id") == CANARY_ROWS
    assert _read(pg_server, source_db, "SELECT * FROM public.ddl_audit") == []
    target_ddl = set(_read(pg_server, target_db, "SELECT tag, object FROM public.ddl_audit"))
    scratch = {
        (tag, obj)
        for tag, obj in target_ddl
        if obj.endswith((".qupersync_stage", ".qupersync_diff"))
    }
    assert {tag for tag, _ in scratch} <= {"CREATE TABLE AS", "ALTER TABLE"}  # a stage's key
    assert {entry for entry in target_ddl - scratch if "pkey" not in entry[1]} == ALLOWED_TARGET_DDL


INJECTIONS = [
    ("name", 'cur"; DROP TABLE x; --'),
    ("source", "billing.cur; DROP TABLE x"),
    ("source", 'billing."cur"'),
    ("source", "billing.cur --"),
    ("target", "cost.cur/*"),
    ("target", "cost.cur'); DELETE FROM x; --"),
    ("partition_column", "day); DELETE FROM x; --"),
    ("primary_key", ["id", "x' OR '1'='1"]),
    ("watermark_column", 'updated_at"'),
    ("measure_column", "cost;"),
]


@pytest.mark.parametrize(("key", "value"), INJECTIONS, ids=[k for k, _ in INJECTIONS])
def test_hostile_names_in_the_table_list_are_refused(key, value, tmp_path):
    entry = {
        "name": "cur",
        "source": "billing.cur",
        "target": "cost.cur",
        "partition_column": "day",
        "start_date": "2026-01-01",
        "mode": "upsert",
        "primary_key": ["id"],
        "watermark_column": "updated_at",
        "measure_column": "cost",
    } | {key: value}
    path = tmp_path / "tables.yaml"
    path.write_text(yaml.safe_dump({"tables": [entry]}))
    with pytest.raises(ConfigError) as failure:
        load_table_list(path)
    assert "not a plain SQL identifier" in str(failure.value) or "schema.table" in str(
        failure.value
    )


@pytest.mark.parametrize("target", ["cost.summary; DROP TABLE x", 'cost."summary"'])
def test_a_hostile_summary_target_is_refused(target, tmp_path):
    path = tmp_path / "tables.yaml"
    path.write_text(
        "tables:\n"
        "  - {name: cur, source: billing.cur, target: cost.cur, partition_column: day,"
        " start_date: '2026-01-01'}\n"
        f"summary: {{from_table: cur, target: '{target}'}}\n"
    )
    with pytest.raises(ConfigError, match="summary"):
        load_table_list(path)
