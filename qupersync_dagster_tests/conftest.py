"""Real servers for the test-suite: a private PostgreSQL and the Redshift wire emulator.

Set ``QUPERSYNC_TEST_PG_DSN`` (e.g. ``postgresql://postgres@127.0.0.1:5432/postgres``) to run
against an existing server instead of the embedded one.
"""

from __future__ import annotations

import os
import uuid

import pytest

from qupersync_dagster.devkit.embedded import ServerAddress, start_embedded


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory) -> ServerAddress:
    dsn = os.environ.get("QUPERSYNC_TEST_PG_DSN")
    if dsn:
        return ServerAddress.from_dsn(dsn)
    return start_embedded(tmp_path_factory.mktemp("pg") / "data", keep=False)


def _fresh_database(server: ServerAddress, role: str):
    name = f"qs_{role}_{uuid.uuid4().hex[:10]}"
    server.create_database(name)
    yield name
    server.drop_database(name)


@pytest.fixture
def source_db(pg_server) -> str:
    """A new, empty database playing the Redshift side (reach it through ``redshift_emulator``)."""
    yield from _fresh_database(pg_server, "source")


@pytest.fixture
def target_db(pg_server) -> str:
    """A new, empty PostgreSQL target database."""
    yield from _fresh_database(pg_server, "target")


@pytest.fixture(scope="session")
def redshift_emulator(pg_server):
    """The Redshift wire emulator in front of ``pg_server``: the real driver connects to it."""
    from qupersync_dagster.devkit.redshift_emulator import RedshiftWireEmulator

    with RedshiftWireEmulator(pg_server) as emulator:
        yield emulator


@pytest.fixture
def sync_env(monkeypatch, pg_server, redshift_emulator, source_db, target_db):
    """The REDSHIFT_* / POSTGRES_* environment of the configuration contract, for one test."""
    values = {
        "REDSHIFT_HOST": redshift_emulator.host,
        "REDSHIFT_PORT": str(redshift_emulator.port),
        "REDSHIFT_DATABASE": source_db,
        "REDSHIFT_USER": pg_server.user,
        "REDSHIFT_PASSWORD": "emulator-trusts-any-password",
        "REDSHIFT_SSL": "false",
        "POSTGRES_HOST": pg_server.host,
        "POSTGRES_PORT": str(pg_server.port),
        "POSTGRES_DATABASE": target_db,
        "POSTGRES_USER": pg_server.user,
        "POSTGRES_PASSWORD": pg_server.password,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values
