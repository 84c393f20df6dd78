"""Connections as Dagster resources, configured from the environment.

Each resource opens connections through the infrastructure layer and closes them when the
context exits. Passwords are plain fields so ``dagster.EnvVar`` can feed them, but they are
excluded from ``repr`` and never written to logs or metadata.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from dagster import ConfigurableResource
from pydantic import Field

from qupersync_dagster.domain.repositories import TargetReadModel
from qupersync_dagster.domain.services.sync_service import SyncService
from qupersync_dagster.infrastructure.postgres.connector import PostgresSettings, create_engine
from qupersync_dagster.infrastructure.postgres.read_model import PostgresReadModel
from qupersync_dagster.infrastructure.postgres.repository import PostgresTargetRepository
from qupersync_dagster.infrastructure.redshift.connector import RedshiftSettings, connect
from qupersync_dagster.infrastructure.redshift.repository import RedshiftSourceRepository


class RedshiftResource(ConfigurableResource):
    """The Redshift cluster cost-usage tables are read from (read-only access is enough)."""

    host: str
    port: int = 5439
    database: str
    user: str
    password: str = Field(default="", repr=False)
    ssl: bool = Field(default=True, description="Encrypt the connection (on by default).")
    sslmode: str = Field(default="verify-ca", description="verify-ca or verify-full.")
    timeout_s: int = Field(default=300, description="Socket timeout for each round-trip.")
    statement_timeout_ms: int = Field(default=0, description="Server-side limit; 0: none.")
    fetch_size: int = Field(
        default=2_000, description="Rows per FETCH; single-node clusters allow at most 1000."
    )

    def settings(self) -> RedshiftSettings:
        return RedshiftSettings(
            host=self.host,
            port=self.port,
            database=self.database,
            user=self.user,
            password=self.password,
            ssl=self.ssl,
            sslmode=self.sslmode,
            timeout_s=self.timeout_s,
            statement_timeout_ms=self.statement_timeout_ms,
            fetch_size=self.fetch_size,
        )

    @contextmanager
    def get_repository(self) -> Iterator[RedshiftSourceRepository]:
        settings = self.settings()
        repository = RedshiftSourceRepository(lambda: connect(settings), settings.fetch_size)
        try:
            yield repository
        finally:
            repository.close()


class PostgresResource(ConfigurableResource):
    """The PostgreSQL database cost-usage tables are mirrored into."""

    host: str
    port: int = 5432
    database: str
    user: str
    password: str = Field(default="", repr=False)
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
    state_schema: str = Field(default="qupersync", description="Schema of the sync state table.")

    def settings(self) -> PostgresSettings:
        return PostgresSettings(
            host=self.host,
            port=self.port,
            database=self.database,
            user=self.user,
            password=self.password,
            sslmode=self.sslmode,
            statement_timeout_ms=self.statement_timeout_ms,
            lock_timeout_ms=self.lock_timeout_ms,
            timeout_s=self.timeout_s,
        )

    @contextmanager
    def get_engine(self) -> Iterator[sa.Engine]:
        engine = create_engine(self.settings())
        try:
            yield engine
        finally:
            engine.dispose()

    @contextmanager
    def get_connection(self) -> Iterator[sa.Connection]:
        with self.get_engine() as engine, engine.begin() as connection:
            yield connection

    @contextmanager
    def get_repository(self) -> Iterator[PostgresTargetRepository]:
        with self.get_engine() as engine:
            yield PostgresTargetRepository(engine, self.state_schema, self.timeout_s)

    @contextmanager
    def get_read_model(self) -> Iterator[TargetReadModel]:
        """What the checks and asset metadata read from the mirror; never writes."""
        with self.get_engine() as engine:
            yield PostgresReadModel(engine, self.timeout_s)


@contextmanager
def open_sync_service(
    redshift: RedshiftResource, postgres: PostgresResource
) -> Iterator[SyncService]:
    with redshift.get_repository() as source, postgres.get_repository() as target:
        yield SyncService(source, target)
