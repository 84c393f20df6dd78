"""Build the sync service from connection settings: the one place the adapters are wired.

The Dagster resources, the test helpers and the benchmark child all open their repositories here,
so the source, the target and the service are put together, and closed, the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import sqlalchemy as sa

from qupersync_dagster.domain.services.sync_service import SyncService
from qupersync_dagster.infrastructure.postgres.connector import PostgresSettings, create_engine
from qupersync_dagster.infrastructure.postgres.guard import GuardedEngine
from qupersync_dagster.infrastructure.postgres.read_model import PostgresReadModel
from qupersync_dagster.infrastructure.postgres.repository import PostgresTargetRepository
from qupersync_dagster.infrastructure.redshift.connector import RedshiftSettings, connect
from qupersync_dagster.infrastructure.redshift.repository import RedshiftSourceRepository
from qupersync_dagster.infrastructure.s3.store import StagingStore


@contextmanager
def open_source(settings: RedshiftSettings) -> Iterator[RedshiftSourceRepository]:
    """The source, connecting on first use, UNLOADing through S3 staging when configured."""
    staging = settings.staging()
    store = StagingStore(staging) if staging is not None else None
    repository = RedshiftSourceRepository(lambda: connect(settings), settings.fetch_size, store)
    try:
        yield repository
    finally:
        repository.close()


@contextmanager
def open_engine(settings: PostgresSettings, pool_size: int = 2) -> Iterator[sa.Engine]:
    """A pool of target connections; disposed on exit."""
    engine = create_engine(settings, pool_size)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def open_guarded(settings: PostgresSettings) -> Iterator[GuardedEngine]:
    """Target connections under the client deadline and error translation (``timeout_s``)."""
    with open_engine(settings) as engine:
        yield GuardedEngine(engine, settings.timeout_s)


@contextmanager
def open_read_model(settings: PostgresSettings) -> Iterator[PostgresReadModel]:
    """What checks and asset metadata read from the mirror; it never writes."""
    with open_engine(settings) as engine:
        yield PostgresReadModel(engine, settings.timeout_s)


@contextmanager
def open_target(settings: PostgresSettings, lanes: int = 1) -> Iterator[PostgresTargetRepository]:
    """The target, its sync state table ensured; its pool disposed on exit.

    Each of a run's ``lanes`` holds a connection for its day's transaction.
    """
    with open_engine(settings, pool_size=max(2, lanes)) as engine:
        yield PostgresTargetRepository(engine, settings.state_schema, settings.timeout_s)


@contextmanager
def open_sync_service(
    redshift: RedshiftSettings, postgres: PostgresSettings, **options: Any
) -> Iterator[SyncService]:
    """A ``SyncService`` over both repositories; ``options`` go to ``SyncService`` itself.

    The source is opened ``read_connections`` times; each connects only once it reads a day.
    """
    with ExitStack() as stack:
        source, *more = [
            stack.enter_context(open_source(redshift)) for _ in range(redshift.read_connections)
        ]
        target = stack.enter_context(open_target(postgres, redshift.read_connections))
        yield SyncService(source, target, more_sources=more, **options)
