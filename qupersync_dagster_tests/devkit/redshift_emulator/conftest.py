"""A strict emulator per test (its switches differ from test to test) and the real driver."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import pytest
import redshift_connector

from qupersync_dagster.devkit.embedded import ServerAddress
from qupersync_dagster.devkit.redshift_emulator import RedshiftWireEmulator

SOCKET_TIMEOUT = 5.0


@pytest.fixture
def strict_emulator(pg_server: ServerAddress) -> Iterator[RedshiftWireEmulator]:
    """A strict, single-node emulator (the defaults) for this test only."""
    with RedshiftWireEmulator(pg_server) as emulator:
        yield emulator


@pytest.fixture
def redshift(
    pg_server: ServerAddress, source_db: str, strict_emulator: RedshiftWireEmulator
) -> Iterator[Callable[..., redshift_connector.Connection]]:
    """Opens ``redshift_connector`` connections to ``source_db`` through ``strict_emulator``."""
    with contextlib.ExitStack() as opened:

        def connect(emulator: RedshiftWireEmulator = strict_emulator, **kwargs):
            conn = redshift_connector.connect(
                host=emulator.host,
                port=emulator.port,
                database=source_db,
                user=pg_server.user,
                password="trusted-anyway",
                ssl=False,
                timeout=SOCKET_TIMEOUT,
                **kwargs,
            )
            return opened.enter_context(contextlib.closing(conn))

        yield connect


def scalar(conn: redshift_connector.Connection, statement: str, params=None):
    cursor = conn.cursor()
    cursor.execute(statement, params)
    return cursor.fetchone()[0]


def server_message(error: Exception) -> str:
    """The 'M' field of the server's ErrorResponse, as the driver passes it."""
    return error.args[0]["M"]
