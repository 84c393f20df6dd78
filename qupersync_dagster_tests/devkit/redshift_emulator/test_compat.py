"""Redshift's functions and catalogue views as a strict session sees them."""

from __future__ import annotations

import contextlib
import json

import pytest
import redshift_connector

from qupersync_dagster.devkit.redshift_emulator import RedshiftWireEmulator, catalogue_fixtures
from qupersync_dagster.devkit.redshift_emulator.compat import COMPAT_SCHEMA
from qupersync_dagster_tests.devkit.redshift_emulator.driver import scalar, server_message

pytestmark = pytest.mark.integration

COLUMNS = (
    "SELECT column_name, data_type, character_maximum_length, numeric_precision, numeric_scale,"
    " is_nullable FROM {view} WHERE {schema} = %s AND {table} = %s ORDER BY {position}"
)
SVV_ALL_COLUMNS = COLUMNS.format(
    view="svv_all_columns", schema="schema_name", table="table_name", position="ordinal_position"
)
INFORMATION_SCHEMA = COLUMNS.format(
    view="information_schema.columns",
    schema="table_schema",
    table="table_name",
    position="ordinal_position",
)
EXTERNAL_COLUMNS = (
    "SELECT columnname, external_type, columnnum, part_key, is_nullable"
    " FROM svv_external_columns WHERE schemaname = %s AND tablename = %s ORDER BY columnnum"
)


def _rows(conn, statement: str, params=None) -> list[tuple]:
    cursor = conn.cursor()
    cursor.execute(statement, params)
    return [tuple(row) for row in cursor.fetchall()]


@pytest.fixture
def catalogue(pg_server, source_db) -> str:
    """A table, a late-binding view over it and an external table, in ``source_db``."""
    with contextlib.closing(pg_server.connect(source_db)) as conn:
        with conn, conn.cursor() as cur:
            cur.execute("CREATE SCHEMA billing")
            cur.execute(
                "CREATE TABLE billing.items (day date NOT NULL, cost double precision,"
                " amount numeric(12, 2), tags jsonb, region varchar(20), flag char(3))"
            )
            cur.execute(
                "INSERT INTO billing.items VALUES ('2026-10-01', 1.5, 2.25, '{\"a\": \"b\"}',"
                " 'eu', 'x')"
            )
        catalogue_fixtures.create_late_binding_view(
            conn, "billing", "items_view", "SELECT day, cost, tags FROM billing.items"
        )
        catalogue_fixtures.create_external_table(
            conn, "spectrum", "items", "SELECT * FROM billing.items"
        )
    return source_db


def test_chr_returns_char_whose_trailing_blank_is_lost_in_text(redshift) -> None:
    conn = redshift()
    assert scalar(conn, "SELECT CAST(pg_typeof(CHR(65)) AS VARCHAR)") == "character"
    assert scalar(conn, "SELECT 'a' || CHR(32) || 'b'") == "ab"


def test_json_serialize_fails_over_65535_bytes(redshift, pg_server, source_db) -> None:
    with contextlib.closing(pg_server.connect(source_db)) as setup, setup, setup.cursor() as cur:
        cur.execute("CREATE TABLE docs (id integer, doc jsonb)")
        cur.execute(
            "INSERT INTO docs VALUES (1, %s), (2, %s)",
            (json.dumps({"k": "v" * 100}), json.dumps({"k": "v" * 70_000})),
        )
    conn = redshift()
    small = "SELECT JSON_SERIALIZE(doc), JSON_SIZE(doc) FROM docs WHERE id = 1"
    assert _rows(conn, small) == [('{"k": "' + "v" * 100 + '"}', 109)]

    with pytest.raises(redshift_connector.ProgrammingError) as refused:
        scalar(conn, "SELECT JSON_SERIALIZE(doc) FROM docs WHERE id = 2")

    assert "JSON_SERIALIZE" in server_message(refused.value)
    assert "65535" in server_message(refused.value)
    conn.rollback()


def test_json_serialize_and_json_size_are_inlined_into_the_plan_and_keep_null(
    redshift, pg_server, source_db
) -> None:
    """A cursor over SUPER columns costs a length test per value, not a function call."""
    conn = redshift()  # creates the compat schema
    assert _rows(conn, "SELECT JSON_SERIALIZE(CAST(NULL AS json))") == [(None,)]
    with contextlib.closing(pg_server.connect(source_db)) as direct, direct.cursor() as cur:
        cur.execute("CREATE TABLE docs (doc json, tags jsonb)")
        # As the emulator sends a strict session's SQL: Redshift's names, the compat schema's
        # functions (PostgreSQL's own JSON_SERIALIZE is another thing).
        serialize, size = (f"{COMPAT_SCHEMA}.json_{name}" for name in ("serialize", "size"))
        cur.execute(
            f"EXPLAIN VERBOSE SELECT {serialize}(doc), {size}(doc), {serialize}(tags),"
            f" {size}(tags) FROM docs"
        )
        plan = "\n".join(row[0] for row in cur.fetchall())
    assert "octet_length" in plan
    assert "json_serialize" not in plan
    assert "json_size" not in plan


def test_late_binding_views_and_external_tables_are_only_in_svv_all_columns(
    redshift, catalogue
) -> None:
    conn = redshift()
    for schema, name in [("billing", "items_view"), ("spectrum", "items")]:
        assert _rows(conn, INFORMATION_SCHEMA, (schema, name)) == []
        assert [row[0] for row in _rows(conn, SVV_ALL_COLUMNS, (schema, name))]
    assert _rows(conn, SVV_ALL_COLUMNS, ("billing", "items")) == [
        ("day", "date", None, None, None, "NO"),
        ("cost", "double precision", None, 53, None, "YES"),
        ("amount", "numeric", None, 12, 2, "YES"),
        ("tags", "super", None, None, None, "YES"),
        ("region", "character varying", 20, None, None, "YES"),
        ("flag", "character", 3, None, None, "YES"),
    ]
    assert _rows(conn, "SELECT cost FROM spectrum.items") == [(1.5,)]


def test_external_columns_carry_spectrum_type_names(redshift, catalogue) -> None:
    conn = redshift()
    assert _rows(conn, EXTERNAL_COLUMNS, ("spectrum", "items")) == [
        ("day", "date", 1, 0, "true"),
        ("cost", "double", 2, 0, "true"),
        ("amount", "decimal(12,2)", 3, 0, "true"),
        ("tags", "map<string,string>", 4, 0, "true"),
        ("region", "varchar(20)", 5, 0, "true"),
        ("flag", "char(3)", 6, 0, "true"),
    ]
    assert _rows(conn, EXTERNAL_COLUMNS, ("billing", "items")) == []


def test_svv_all_tables_tells_tables_views_and_external_tables_apart(redshift, catalogue) -> None:
    conn = redshift()
    kinds = _rows(
        conn,
        "SELECT schema_name, table_name, table_type FROM svv_all_tables"
        " WHERE schema_name IN ('billing', 'spectrum') ORDER BY 1, 2",
    )
    assert kinds == [
        ("billing", "items", "TABLE"),
        ("billing", "items_view", "VIEW"),
        ("spectrum", "items", "EXTERNAL TABLE"),
    ]


def test_refresh_shows_the_underlying_rows_now(redshift, pg_server, catalogue) -> None:
    with contextlib.closing(pg_server.connect(catalogue)) as conn:
        with conn, conn.cursor() as cur:
            cur.execute("DELETE FROM billing.items")
        catalogue_fixtures.refresh(conn, "billing", "items_view")
    assert scalar(redshift(), "SELECT COUNT(*) FROM billing.items_view") == 0


@pytest.mark.parametrize(("single_node", "nodes"), [(True, 1), (False, 2)])
def test_stv_slices_counts_the_emulated_nodes(redshift, pg_server, single_node, nodes) -> None:
    with RedshiftWireEmulator(pg_server, single_node=single_node) as emulator:
        conn = redshift(emulator)
        assert scalar(conn, "SELECT COUNT(DISTINCT node) FROM stv_slices") == nodes


def test_catalogue_views_stay_visible_whatever_the_search_path(redshift, catalogue) -> None:
    conn = redshift()
    conn.cursor().execute("SET search_path TO billing")
    assert scalar(conn, "SELECT COUNT(*) FROM items") == 1
    assert scalar(conn, "SELECT COUNT(*) FROM svv_all_columns WHERE table_name = 'items'") == 12
    qualified = "SELECT COUNT(*) FROM pg_catalog.svv_external_columns WHERE tablename = 'items'"
    assert scalar(conn, qualified) == 6
