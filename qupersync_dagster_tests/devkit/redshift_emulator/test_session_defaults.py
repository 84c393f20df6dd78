"""Strict sessions start with Redshift's float rendering and a hostile parameter group."""

from __future__ import annotations

import contextlib

import psycopg2
import pytest
import redshift_connector

from qupersync_dagster.devkit.redshift_emulator import RedshiftWireEmulator
from qupersync_dagster_tests.devkit.redshift_emulator.driver import scalar, server_message

pytestmark = pytest.mark.integration

SUM_AS_TEXT = "SELECT CAST(CAST(0.1 AS DOUBLE PRECISION) + 0.2 AS VARCHAR)"
DAY_AS_TEXT = "SELECT CAST(CAST('2026-10-01' AS DATE) AS VARCHAR)"
# The driver prepares each statement text once and PostgreSQL folds these constants into the
# plan, so a statement run again after a SET is given a new text.
AGAIN = " AS after_set"


def test_floats_render_with_fifteen_digits_until_the_client_raises_extra_float_digits(
    redshift,
) -> None:
    conn = redshift()
    assert scalar(conn, SUM_AS_TEXT) == "0.3"

    conn.cursor().execute("SET extra_float_digits TO 2")

    assert scalar(conn, SUM_AS_TEXT + AGAIN) == "0.30000000000000004"


def test_dates_render_day_first_until_the_client_sets_iso(redshift) -> None:
    conn = redshift()
    assert scalar(conn, DAY_AS_TEXT) == "01/10/2026"

    conn.cursor().execute("SET datestyle TO ISO")

    assert scalar(conn, DAY_AS_TEXT + AGAIN) == "2026-10-01"


def test_the_session_time_zone_is_not_utc_until_the_client_sets_it(redshift) -> None:
    conn = redshift()
    midnight = "SELECT CAST(CAST('2026-10-01 00:00:00+00' AS TIMESTAMPTZ) AS VARCHAR)"
    assert scalar(conn, "SHOW timezone") == "Pacific/Chatham"
    assert scalar(conn, midnight).startswith("01/10/2026 13:45:00")

    conn.cursor().execute("SET timezone TO 'UTC'")

    assert scalar(conn, "SHOW timezone") == "UTC"


def test_a_non_strict_emulator_keeps_postgresql_defaults(redshift, pg_server) -> None:
    with RedshiftWireEmulator(pg_server, strict=False) as lenient:
        conn = redshift(lenient)
        assert scalar(conn, SUM_AS_TEXT) == "0.30000000000000004"
        assert scalar(conn, DAY_AS_TEXT) == "2026-10-01"
        assert scalar(conn, "SELECT string_agg(x, ',') FROM (VALUES ('a'), ('b')) AS v(x)") == (
            "a,b"
        )


def test_a_startup_option_the_client_chose_wins_over_the_hostile_default(
    strict_emulator, pg_server, source_db
) -> None:
    conn = psycopg2.connect(
        host=strict_emulator.host,
        port=strict_emulator.port,
        dbname=source_db,
        user=pg_server.user,
        options="-c DateStyle=ISO",
    )
    with contextlib.closing(conn), conn.cursor() as cur:
        cur.execute("SHOW DateStyle")
        assert cur.fetchone()[0].startswith("ISO")
        cur.execute("SHOW timezone")
        assert cur.fetchone()[0] == "Pacific/Chatham"


def test_extra_float_digits_above_redshifts_maximum_of_2_is_refused(redshift) -> None:
    conn = redshift()
    with pytest.raises(redshift_connector.ProgrammingError) as refused:
        conn.cursor().execute("SET extra_float_digits TO 3")
    assert "extra_float_digits (-15 .. 2)" in server_message(refused.value)
    conn.rollback()
