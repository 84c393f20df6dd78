"""Statements using what Redshift lacks are refused, naming the construct, in both protocols."""

from __future__ import annotations

import contextlib

import psycopg2
import pytest
import redshift_connector

from qupersync_dagster_tests.devkit.redshift_emulator.driver import scalar, server_message

pytestmark = pytest.mark.integration

REFUSED = {
    "SELECT string_agg(tag, ',') FROM usage": "function string_agg()",
    "SELECT jsonb_build_object('a', 1)": "function jsonb_build_object()",
    "SELECT DISTINCT ON (tag) id FROM usage": "DISTINCT ON",
    "SELECT CAST('usage' AS regclass)": "the regclass type",
    "SELECT 'usage'::regclass": "the regclass type",
    "SELECT pg_advisory_lock(1)": "function pg_advisory_lock()",
    "SELECT g FROM generate_series(1, 3) AS g JOIN usage ON usage.id = g": "generate_series()",
    "COPY usage TO STDOUT": "COPY ... TO STDOUT",
}


@pytest.fixture
def usage(pg_server, source_db) -> str:
    with contextlib.closing(pg_server.connect(source_db)) as conn, conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE usage (id integer, tag varchar(20))")
        cur.execute("INSERT INTO usage VALUES (1, 'a'), (2, 'b')")
    return source_db


@pytest.mark.parametrize(("statement", "construct"), REFUSED.items())
def test_a_construct_redshift_lacks_is_refused_by_name(redshift, usage, statement, construct):
    conn = redshift()
    with pytest.raises(redshift_connector.ProgrammingError) as refused:
        conn.cursor().execute(statement)

    assert construct in server_message(refused.value)
    assert "not supported" in server_message(refused.value)
    conn.rollback()


def test_a_refused_statement_with_parameters_fails_when_executed(redshift, usage) -> None:
    conn = redshift()
    statement = "SELECT string_agg(tag, %s) FROM usage WHERE id > %s"
    for _ in range(2):  # the second run reuses the driver's prepared statement
        with pytest.raises(redshift_connector.ProgrammingError, match="string_agg"):
            conn.cursor().execute(statement, (",", 0))
        conn.rollback()
    assert scalar(conn, "SELECT COUNT(*) FROM usage WHERE id > %s", (0,)) == 2


def test_what_redshift_has_passes(redshift, usage) -> None:
    conn = redshift()
    assert scalar(conn, "SELECT COUNT(*) FROM generate_series(1, 5)") == 5
    assert scalar(conn, "SELECT MAX(tag) FROM usage WHERE tag <> 'string_agg('") == "b"


def test_a_simple_query_is_screened_too(strict_emulator, pg_server, usage) -> None:
    conn = psycopg2.connect(
        host=strict_emulator.host, port=strict_emulator.port, dbname=usage, user=pg_server.user
    )
    with contextlib.closing(conn), conn.cursor() as cur:
        with pytest.raises(psycopg2.errors.FeatureNotSupported, match="DISTINCT ON"):
            cur.execute("BEGIN; SELECT DISTINCT ON (tag) id FROM usage")
        conn.rollback()
        cur.execute("SELECT COUNT(*) FROM usage; SELECT 1")
        assert cur.fetchone() == (1,)
