"""Build the real sync engine against chosen endpoints, so a fault can sit on either wire.

The Dagster resources always connect straight to the configured hosts; fault tests instead route
the source through the Redshift wire emulator and, when the target is the side under attack,
the target through a plain TCP proxy, with timeouts small enough to keep a hang short.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from qupersync_dagster.devkit.embedded import ServerAddress
from qupersync_dagster.devkit.redshift_emulator import RedshiftWireEmulator
from qupersync_dagster.domain.services.sync_service import SyncService
from qupersync_dagster.infrastructure.postgres.connector import PostgresSettings, create_engine
from qupersync_dagster.infrastructure.postgres.repository import PostgresTargetRepository
from qupersync_dagster.infrastructure.redshift.connector import RedshiftSettings, connect
from qupersync_dagster.infrastructure.redshift.repository import RedshiftSourceRepository


@dataclass(frozen=True)
class Endpoints:
    """Where the engine connects: the source through ``emulator``, the target directly or not."""

    server: ServerAddress
    emulator: RedshiftWireEmulator
    source_db: str
    target_db: str
    target_proxy: RedshiftWireEmulator | None = None
    redshift: dict = field(default_factory=dict)  # RedshiftSettings overrides
    postgres: dict = field(default_factory=dict)  # PostgresSettings overrides

    def redshift_settings(self) -> RedshiftSettings:
        values = {
            "host": self.emulator.host,
            "port": self.emulator.port,
            "database": self.source_db,
            "user": self.server.user,
            "password": "emulator-trusts-any-password",
            "ssl": False,
            "timeout_s": 10,
            "fetch_size": 50,
        }
        return RedshiftSettings(**(values | self.redshift))

    def postgres_settings(self) -> PostgresSettings:
        host, port = self.server.host, self.server.port
        if self.target_proxy is not None:
            host, port = self.target_proxy.host, self.target_proxy.port
        values = {
            "host": host,
            "port": port,
            "database": self.target_db,
            "user": self.server.user,
            "password": self.server.password,
        }
        return PostgresSettings(**(values | self.postgres))


@contextmanager
def open_service(
    redshift: RedshiftSettings, postgres: PostgresSettings, *, prefetch_depth: int = 4
) -> Iterator[SyncService]:
    """A ``SyncService`` over fresh connections, closed (source) and disposed (target) after."""
    source = RedshiftSourceRepository(lambda: connect(redshift), redshift.fetch_size)
    engine = create_engine(postgres)
    try:
        target = PostgresTargetRepository(engine, timeout_s=postgres.timeout_s)
        yield SyncService(source, target, prefetch_depth=prefetch_depth)
    finally:
        source.close()
        engine.dispose()


def sync_service(endpoints: Endpoints, *, prefetch_depth: int = 4):
    """``open_service`` for ``endpoints``."""
    return open_service(
        endpoints.redshift_settings(),
        endpoints.postgres_settings(),
        prefetch_depth=prefetch_depth,
    )


def failed_in(error: BaseException) -> set[str]:
    """Names of the functions ``error`` and the errors behind it passed through.

    Proves where a cut struck (``_copy``, ``_merge``, ``commit``...) without counting bytes.
    """
    names: set[str] = set()
    seen: BaseException | None = error
    while seen is not None:
        names.update(frame.name for frame in traceback.extract_tb(seen.__traceback__))
        seen = seen.__cause__ or seen.__context__
    return names
