"""The real ``redshift_connector`` driver, opened on a wire emulator, and small reading helpers."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redshift_connector

import qupersync_dagster
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


@contextmanager
def emulator_cli(
    server: ServerAddress, *switches: str
) -> Iterator[tuple[subprocess.Popen[str], str, int]]:
    """The emulator's command line in its own process, with the address it reports; killed after."""
    command = [
        sys.executable,
        "-m",
        "qupersync_dagster.devkit.redshift_emulator",
        "--upstream-host",
        server.host,
        "--upstream-port",
        str(server.port),
        "--port",
        "0",
        *switches,
    ]
    repo_root = Path(qupersync_dagster.__file__).resolve().parents[1]
    with subprocess.Popen(command, cwd=repo_root, stdout=subprocess.PIPE, text=True) as cli:
        try:
            assert cli.stdout is not None
            match = re.search(r"listening on ([\d.]+):(\d+)", cli.stdout.readline())
            assert match, "the CLI did not print its address"
            yield cli, match[1], int(match[2])
        finally:
            cli.kill()
