"""Connections to the Redshift cluster.

SSL is on by default and verifies the server certificate; a hung cluster is bounded by the socket
timeout and, server-side, by ``statement_timeout``.

Every connection sends without Nagle's delay (``TCP_NODELAY``, as libpq sets it). The driver
writes a message through an 8 KB buffer, so a statement longer than that (a cursor's rendering
select often is) leaves in two writes; with Nagle's algorithm the second waits for the cluster's
acknowledgement of the first, which the cluster delays while it has nothing to send: some 40 ms
on Linux, for every such statement.
"""

from __future__ import annotations

import socket

import redshift_connector
from pydantic import Field

from qupersync_dagster.infrastructure.connection_settings import ConnectionSettings
from qupersync_dagster.infrastructure.redshift import sql
from qupersync_dagster.infrastructure.s3.settings import UnloadSettings


class RedshiftSettings(UnloadSettings, ConnectionSettings):
    """A connection to the cluster: every setting beyond the shared ones, each with its default,
    and where it UNLOADs days too large for a cursor (``UnloadSettings``).

    The interface's resource inherits this model; tests and the benchmark construct it directly.
    """

    port: int = 5439
    ssl: bool = Field(default=True, description="Encrypt the connection.")
    sslmode: str = Field(default="verify-ca", description="verify-ca or verify-full.")
    timeout_s: int | None = Field(
        default=300, description="Socket timeout: no single server round-trip may take longer."
    )
    statement_timeout_ms: int = Field(
        default=0, description="Server-side statement limit; 0: the cluster's own."
    )
    fetch_size: int = Field(
        default=2_000, description="Rows per FETCH; single-node clusters allow at most 1000."
    )
    read_connections: int = Field(
        default=2,
        ge=1,
        le=8,
        description="Connections a run reads days over at once, each day on one of them.",
    )


def connect(settings: RedshiftSettings) -> redshift_connector.Connection:
    conn = redshift_connector.connect(
        host=settings.host,
        port=settings.port,
        database=settings.database,
        user=settings.user,
        password=settings.password,
        ssl=settings.ssl,
        sslmode=settings.sslmode,
        timeout=settings.timeout_s,
        application_name=settings.application_name,
        tcp_keepalive=True,
    )
    if conn._usock.family in (socket.AF_INET, socket.AF_INET6):
        conn._usock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    cursor = conn.cursor()
    for statement in sql.session_setup(settings.statement_timeout_ms):
        cursor.execute(statement)
    conn.commit()
    return conn
