"""Connections to the target database.

SQLAlchemy owns the pool and the transaction; COPY goes through the same psycopg2 connection, so
bulk loading and the state update share one transaction. The password lives in the SQLAlchemy URL,
whose ``repr`` masks it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from qupersync_dagster.infrastructure.postgres import watchdog


@dataclass(frozen=True)
class PostgresSettings:
    host: str
    database: str
    user: str
    password: str = field(default="", repr=False)
    port: int = 5432
    sslmode: str = "prefer"
    statement_timeout_ms: int = 0  # 0: no limit
    lock_timeout_ms: int = 0  # 0: wait for a partition lock as long as the statement may
    timeout_s: int = 3600  # client-side bound on any operation, a day's transaction included
    connect_timeout_s: int = 10
    application_name: str = "qupersync"

    def url(self) -> sa.URL:
        query = {"sslmode": self.sslmode, "application_name": self.application_name}
        if self.host.startswith("/"):  # a Unix socket directory
            query["host"] = self.host
            return sa.URL.create(
                "postgresql+psycopg2",
                username=self.user,
                password=self.password or None,
                database=self.database,
                port=self.port,
                query=query,
            )
        return sa.URL.create(
            "postgresql+psycopg2",
            username=self.user,
            password=self.password or None,
            host=self.host,
            port=self.port,
            database=self.database,
            query=query,
        )


def create_engine(settings: PostgresSettings) -> sa.Engine:
    options = [
        f"-c statement_timeout={settings.statement_timeout_ms}",
        f"-c lock_timeout={settings.lock_timeout_ms}",
        "-c timezone=UTC",
    ]
    # No pre-ping: each run disposes its engine, so pooled connections are short-lived, and a
    # stale one fails with a retryable error like any other cut.
    engine = sa.create_engine(
        settings.url(),
        pool_size=2,
        max_overflow=2,
        connect_args={
            "connect_timeout": settings.connect_timeout_s,
            "options": " ".join(options),
            # Detect a dead peer instead of waiting on a half-open socket forever.
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
        },
    )
    watchdog.install(engine)
    return engine
