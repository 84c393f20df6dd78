"""Build the real sync engine against chosen endpoints, so a fault can sit on either wire.

The Dagster resources always connect straight to the configured hosts; fault tests instead route
the source through the Redshift wire emulator and, when the target is the side under attack,
the target through a plain TCP proxy, with timeouts small enough to keep a hang short.
"""

from __future__ import annotations

import traceback
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from qupersync_dagster import bootstrap
from qupersync_dagster.devkit.embedded import ServerAddress
from qupersync_dagster.devkit.redshift_emulator import RedshiftWireEmulator
from qupersync_dagster.domain.services.sync_service import SyncService
from qupersync_dagster.infrastructure.postgres.connector import PostgresSettings
from qupersync_dagster.infrastructure.redshift.connector import RedshiftSettings


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


def sync_service(endpoints: Endpoints, **options) -> AbstractContextManager[SyncService]:
    """``bootstrap.open_sync_service`` for ``endpoints``; ``options`` go to ``SyncService``."""
    return bootstrap.open_sync_service(
        endpoints.redshift_settings(), endpoints.postgres_settings(), **options
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
