"""Redshift connections are encrypted by default and never fall back to plain text.

The defaults (SSL on, ``verify-ca``) are checked on every layer a user may configure: the
resource, the infrastructure settings and the environment-built definitions. Then the real driver
is pointed at servers that decline SSL, as the wire emulator does: the run must fail with an error
that says so, and (checked with a bare listener) without sending its startup packet, which
carries the user name, in the clear.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

import dagster as dg
import pytest

from qupersync_dagster.definitions import resources
from qupersync_dagster.defs.resources import RedshiftResource
from qupersync_dagster.domain.entities import TableRef
from qupersync_dagster.domain.errors import SourceUnavailableError
from qupersync_dagster.infrastructure.redshift.connector import RedshiftSettings, connect
from qupersync_dagster.infrastructure.redshift.repository import RedshiftSourceRepository

SSL_REQUEST = struct.pack("!ii", 8, 80877103)
TABLE = TableRef("billing", "cur_line_items")
REQUIRED = {
    "REDSHIFT_HOST": "cluster.example",
    "REDSHIFT_DATABASE": "dev",
    "REDSHIFT_USER": "reader",
    "REDSHIFT_PASSWORD": "x",
}


def test_the_resource_and_the_settings_default_to_verified_ssl():
    resource = RedshiftResource(host="cluster.example", database="dev", user="reader")
    assert (resource.ssl, resource.sslmode) == (True, "verify-ca")
    assert (resource.settings().ssl, resource.settings().sslmode) == (True, "verify-ca")
    settings = RedshiftSettings(host="cluster.example", database="dev", user="reader")
    assert (settings.ssl, settings.sslmode) == (True, "verify-ca")


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({}, (True, "verify-ca")),
        ({"REDSHIFT_SSLMODE": "verify-full"}, (True, "verify-full")),
        ({"REDSHIFT_SSL": "false"}, (False, "verify-ca")),
    ],
)
def test_the_environment_contract_keeps_ssl_on_unless_turned_off(
    environment, expected, monkeypatch
):
    for name in ("REDSHIFT_SSL", "REDSHIFT_SSLMODE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in (REQUIRED | environment).items():
        monkeypatch.setenv(name, value)
    with dg.build_resources({"redshift": resources()["redshift"]}) as built:
        redshift = built.redshift.settings()  # what a run connects with
    assert (redshift.ssl, redshift.sslmode) == expected


def _repository(host: str, port: int, sslmode: str) -> RedshiftSourceRepository:
    settings = RedshiftSettings(
        host=host, port=port, database="dev", user="reader", password="x", sslmode=sslmode,
        timeout_s=10,
    )  # fmt: skip
    return RedshiftSourceRepository(lambda: connect(settings), settings.fetch_size)


@pytest.mark.integration
@pytest.mark.parametrize("sslmode", ["verify-ca", "verify-full"])
def test_ssl_against_the_emulator_fails_clearly_instead_of_downgrading(sslmode, redshift_emulator):
    repository = _repository(redshift_emulator.host, redshift_emulator.port, sslmode)
    opened = redshift_emulator.connections_opened
    with pytest.raises(SourceUnavailableError) as failure:
        repository.describe(TABLE)
    assert "Server refuses SSL" in str(failure.value)
    assert redshift_emulator.connections_opened == opened + 1


@pytest.mark.parametrize("sslmode", ["verify-ca", "verify-full"])
def test_a_server_declining_ssl_never_receives_the_startup_packet(sslmode):
    received: list[bytes] = []
    client_gave_up = threading.Event()

    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(10)

        def decline_ssl() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(10)
                received.append(conn.recv(8))
                conn.sendall(b"N")
                client_gave_up.wait(10)
                conn.setblocking(False)
                with contextlib.suppress(BlockingIOError):  # nothing more was sent
                    received.append(conn.recv(4096) or b"(closed)")

        server = threading.Thread(target=decline_ssl, daemon=True)
        server.start()
        repository = _repository("127.0.0.1", listener.getsockname()[1], sslmode)
        with pytest.raises(SourceUnavailableError, match="Server refuses SSL"):
            repository.describe(TABLE)
        client_gave_up.set()
        server.join(10)

    assert received in ([SSL_REQUEST], [SSL_REQUEST, b"(closed)"])
