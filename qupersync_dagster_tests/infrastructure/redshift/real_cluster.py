"""Where the ``redshift`` tests read from: a real cluster when one is named, else the emulator.

With ``REDSHIFT_TEST_HOST``, ``_DATABASE``, ``_USER`` and ``_PASSWORD`` set (``_PORT``,
``_SSL``, ``_SSLMODE`` and ``_SCHEMA`` optional) the tests marked ``redshift`` run against that
cluster: ``.venv/bin/pytest -m redshift``. Without them those are skipped, and the same tests run
against the wire emulator instead, so their code paths are exercised on every run. Each test
creates its own table in the scratch schema and drops it; the target is the embedded PostgreSQL.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from qupersync_dagster.domain.entities import TableRef
from qupersync_dagster.infrastructure.redshift import sql
from qupersync_dagster.infrastructure.redshift.connector import RedshiftSettings, connect
from qupersync_dagster_tests.repositories import redshift_settings

REQUIRED = (
    "REDSHIFT_TEST_HOST",
    "REDSHIFT_TEST_DATABASE",
    "REDSHIFT_TEST_USER",
    "REDSHIFT_TEST_PASSWORD",
)
OPTIONAL = (
    "REDSHIFT_TEST_PORT",
    "REDSHIFT_TEST_SSL",
    "REDSHIFT_TEST_SSLMODE",
    "REDSHIFT_TEST_SCHEMA",
)


@dataclass(frozen=True)
class Source:
    """A Redshift (or its stand-in) and how to spell what differs between them in test DDL."""

    settings: RedshiftSettings
    schema: str  # the scratch schema test tables live in
    super_type: str  # SUPER on Redshift; json, the emulator's stand-in
    super_value: str  # SQL turning a JSON text parameter into ``super_type``


def cluster_from_environment() -> Source:
    """The cluster the ``REDSHIFT_TEST_*`` variables name; skips the test when they are unset."""
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        pytest.skip(
            f"no Redshift cluster: set {', '.join(REQUIRED)} (optional: {', '.join(OPTIONAL)}) "
            f"to run the redshift tests against one"
        )
    env = os.environ
    settings = RedshiftSettings(
        host=env["REDSHIFT_TEST_HOST"],
        port=int(env.get("REDSHIFT_TEST_PORT", "5439")),
        database=env["REDSHIFT_TEST_DATABASE"],
        user=env["REDSHIFT_TEST_USER"],
        password=env["REDSHIFT_TEST_PASSWORD"],
        ssl=env.get("REDSHIFT_TEST_SSL", "true").lower() in ("1", "true", "yes", "on"),
        sslmode=env.get("REDSHIFT_TEST_SSLMODE", "verify-ca"),
        timeout_s=120,
    )
    return Source(settings, env.get("REDSHIFT_TEST_SCHEMA", "public"), "SUPER", "JSON_PARSE(%s)")


def emulated(emulator, server, database: str) -> Source:
    """The wire emulator in front of ``database``, where ``json`` stands in for SUPER."""
    return Source(
        redshift_settings(emulator, server, database), "public", "json", "CAST(%s AS json)"
    )


@contextmanager
def scratch_table(source: Source, columns: str) -> Iterator[tuple[object, TableRef]]:
    """A new table of ``columns`` in the scratch schema and an autocommit cursor; dropped after."""
    ref = TableRef(source.schema, f"qs_test_{uuid.uuid4().hex[:12]}")
    conn = connect(source.settings)
    conn.autocommit = True
    cursor = conn.cursor()
    try:
        cursor.execute(f"CREATE TABLE {sql.table_name(ref)} ({columns})")
        yield cursor, ref
    finally:
        cursor.execute(f"DROP TABLE IF EXISTS {sql.table_name(ref)}")
        conn.close()


def insert(cursor, ref: TableRef, rows: list[tuple], placeholders: str = "") -> None:
    """Insert ``rows`` in one multi-row VALUES statement, every value a parameter."""
    row = f"({placeholders or ', '.join(['%s'] * len(rows[0]))})"
    values = [value for item in rows for value in item]
    cursor.execute(
        f"INSERT INTO {sql.table_name(ref)} VALUES {', '.join([row] * len(rows))}", values
    )
