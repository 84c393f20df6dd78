"""Connections to the target database.

SQLAlchemy owns the pool and the transaction; COPY goes through the same psycopg2 connection, so
bulk loading and the state update share one transaction. The password lives in the SQLAlchemy URL,
whose ``repr`` masks it.
"""

from __future__ import annotations

import sqlalchemy as sa
from pydantic import Field

from qupersync_dagster.infrastructure.connection_settings import ConnectionSettings
from qupersync_dagster.infrastructure.postgres import watchdog


class PostgresSettings(ConnectionSettings):
    """A connection to the target: every setting beyond the shared ones, each with its default.

    The interface's resource inherits this model; tests and the benchmark construct it directly.
    """

    port: int = 5432
    sslmode: str = Field(default="prefer", description="libpq sslmode.")
    statement_timeout_ms: int = Field(default=0, description="Per-statement limit; 0: none.")
    lock_timeout_ms: int = Field(
        default=0, description="How long to wait for another run's partition lock; 0: no limit."
    )
    timeout_s: int = Field(
        default=3600,
        description="Client-side bound on any target operation, a day's transaction included; "
        "a server that stops answering is cut off after it. 0: no limit.",
    )
    connect_timeout_s: int = 10
    state_schema: str = Field(default="qupersync", description="Schema of the sync state table.")

    def url(self) -> sa.URL:
        query = {"sslmode": self.sslmode, "application_name": self.application_name}
        host: str | None = self.host
        if self.host.startswith("/"):  # a Unix socket directory goes in the query
            query["host"], host = self.host, None
        return sa.URL.create(
            "postgresql+psycopg2",
            username=self.user,
            password=self.password or None,
            host=host,
            port=self.port,
            database=self.database,
            query=query,
        )


def create_engine(settings: PostgresSettings, pool_size: int = 2) -> sa.Engine:
    """The target's engine; ``pool_size`` connections may be in use at once (a run's lanes)."""
    options = [
        f"-c statement_timeout={settings.statement_timeout_ms}",
        f"-c lock_timeout={settings.lock_timeout_ms}",
        "-c timezone=UTC",
    ]
    # No pre-ping: each run disposes its engine, so pooled connections are short-lived, and a
    # stale one fails with a retryable error like any other cut.
    engine = sa.create_engine(
        settings.url(),
        pool_size=pool_size,
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
