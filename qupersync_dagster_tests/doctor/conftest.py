"""A source with Redshift's system views, a read-only Redshift user, and the doctor's command."""

from __future__ import annotations

import subprocess
import uuid

import pytest
from psycopg2 import sql

from qupersync_dagster_tests.demo.launcher import console_script

# Redshift's views as the wire emulator's server shows them. Created only where the emulator
# has not provided them already: one node (a single-node cluster) with two slices, and the
# catalogue as information_schema shows it to the querying user.
_VIEWS = {
    "stv_slices": "SELECT 0 AS node, slice FROM (VALUES (0), (1)) AS s(slice)",
    "svv_all_columns": (
        "SELECT CAST(table_catalog AS varchar(128)) AS database_name,"
        " CAST(table_schema AS varchar(128)) AS schema_name,"
        " CAST(table_name AS varchar(128)) AS table_name,"
        " CAST(column_name AS varchar(128)) AS column_name,"
        " CAST(ordinal_position AS integer) AS ordinal_position,"
        " CAST(column_default AS varchar(4000)) AS column_default,"
        " CAST(is_nullable AS varchar(3)) AS is_nullable,"
        " CAST(data_type AS varchar(128)) AS data_type,"
        " CAST(character_maximum_length AS integer) AS character_maximum_length,"
        " CAST(numeric_precision AS integer) AS numeric_precision,"
        " CAST(numeric_scale AS integer) AS numeric_scale,"
        " CAST(NULL AS varchar(256)) AS remarks"
        " FROM information_schema.columns"
    ),
}


@pytest.fixture
def redshift_catalogue(cur_source):
    """The source database of ``cur_source`` with STV_SLICES and SVV_ALL_COLUMNS readable."""
    with cur_source.cursor() as cur:
        for name, query in _VIEWS.items():
            cur.execute("SELECT to_regclass(%s)", (name,))
            if cur.fetchone()[0] is None:
                cur.execute(
                    sql.SQL("CREATE VIEW public.{} AS " + query).format(sql.Identifier(name))
                )
            cur.execute(sql.SQL("GRANT SELECT ON {} TO PUBLIC").format(sql.Identifier(name)))
    cur_source.commit()
    return cur_source


@pytest.fixture
def reader_role(redshift_catalogue):
    """A login role with USAGE on ``billing`` and SELECT on ``billing.cur_line_items`` only."""
    role = f"qs_reader_{uuid.uuid4().hex[:8]}"
    with redshift_catalogue.cursor() as cur:
        cur.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        cur.execute(sql.SQL("GRANT USAGE ON SCHEMA billing TO {}").format(sql.Identifier(role)))
        cur.execute(
            sql.SQL("GRANT SELECT ON billing.cur_line_items TO {}").format(sql.Identifier(role))
        )
    redshift_catalogue.commit()
    yield role
    with redshift_catalogue.cursor() as cur:
        cur.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        cur.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    redshift_catalogue.commit()


def run_doctor() -> subprocess.CompletedProcess:
    """``qupersync doctor`` as a user runs it, with this process's environment."""
    return subprocess.run(
        [console_script("qupersync"), "doctor"], capture_output=True, text=True, timeout=180
    )
