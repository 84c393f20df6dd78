"""A read-only Redshift user on the generated CUR source, and the doctor's command."""

from __future__ import annotations

import subprocess
import uuid

import pytest
from psycopg2 import sql

from qupersync_dagster.devkit.redshift_emulator import compat
from qupersync_dagster_tests.demo.launcher import console_script


@pytest.fixture
def reader_role(cur_source):
    """A login role with USAGE on ``billing`` and SELECT on ``billing.cur_line_items`` only."""
    role = f"qs_reader_{uuid.uuid4().hex[:8]}"
    # A cluster has its system views before anyone connects: the emulator's stand-ins are
    # installed now, so that the doctor's "writes nothing" snapshots do not count them.
    compat.install(cur_source)
    with cur_source.cursor() as cur:
        cur.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        cur.execute(sql.SQL("GRANT USAGE ON SCHEMA billing TO {}").format(sql.Identifier(role)))
        cur.execute(
            sql.SQL("GRANT SELECT ON billing.cur_line_items TO {}").format(sql.Identifier(role))
        )
    cur_source.commit()
    yield role
    with cur_source.cursor() as cur:
        cur.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        cur.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    cur_source.commit()


def run_doctor() -> subprocess.CompletedProcess:
    """``qupersync doctor`` as a user runs it, with this process's environment."""
    return subprocess.run(
        [console_script("qupersync"), "doctor"], capture_output=True, text=True, timeout=180
    )
