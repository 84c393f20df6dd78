"""Connections to the Redshift cluster.

SSL is on by default and verifies the server certificate; a hung cluster is bounded by the socket
timeout and, server-side, by ``statement_timeout``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import redshift_connector

from qupersync_dagster.infrastructure.redshift import sql


@dataclass(frozen=True)
class RedshiftSettings:
    host: str
    database: str
    user: str
    password: str = field(default="", repr=False)
    port: int = 5439
    ssl: bool = True
    sslmode: str = "verify-ca"  # or verify-full
    timeout_s: int | None = 300  # socket timeout: no single server round-trip may take longer
    statement_timeout_ms: int = 0  # 0: the cluster's own limit
    fetch_size: int = 2_000  # rows per FETCH; single-node clusters allow at most 1000
    application_name: str = "qupersync"


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
    cursor = conn.cursor()
    for statement in sql.session_setup(settings.statement_timeout_ms):
        cursor.execute(statement)
    conn.commit()
    return conn
