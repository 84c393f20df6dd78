"""The real ``redshift_connector`` driver, opened on a wire emulator, and small reading helpers."""

from __future__ import annotations

import redshift_connector

from qupersync_dagster.devkit.embedded import ServerAddress
from qupersync_dagster.devkit.redshift_emulator import RedshiftWireEmulator

SOCKET_TIMEOUT = 5.0


def connect(
    emulator: RedshiftWireEmulator, server: ServerAddress, database: str, **kwargs
) -> redshift_connector.Connection:
    options = {"timeout": SOCKET_TIMEOUT, **kwargs}
    return redshift_connector.connect(
        host=emulator.host,
        port=emulator.port,
        database=database,
        user=server.user,
        password="trusted-anyway",
        ssl=False,
        **options,
    )


def scalar(conn: redshift_connector.Connection, statement: str, params=None):
    cursor = conn.cursor()
    cursor.execute(statement, params)
    return cursor.fetchone()[0]


def server_message(error: Exception) -> str:
    """The 'M' field of the server's ErrorResponse, as the driver passes it."""
    return error.args[0]["M"]
