"""QuperSync's real repositories opened on the test servers, the way production opens them.

The source always goes through the real ``redshift_connector`` driver and the wire emulator, so a
test cannot accidentally read the source over psycopg2 and miss a driver-specific behaviour.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from qupersync_dagster.devkit.embedded import ServerAddress
from qupersync_dagster.devkit.redshift_emulator import RedshiftWireEmulator
from qupersync_dagster.infrastructure.postgres.connector import PostgresSettings, create_engine
from qupersync_dagster.infrastructure.redshift.connector import RedshiftSettings, connect
from qupersync_dagster.infrastructure.redshift.repository import RedshiftSourceRepository


def emulator_settings(
    emulator: RedshiftWireEmulator, server: ServerAddress, database: str, fetch_size: int = 2_000
) -> RedshiftSettings:
    """Settings reaching ``database`` through the emulator, as the server's own user."""
    return RedshiftSettings(
        host=emulator.host,
        port=emulator.port,
        database=database,
        user=server.user,
        password="emulator-trusts-any-password",
        ssl=False,
        timeout_s=30,
        fetch_size=fetch_size,
    )


@contextmanager
def redshift_source(
    emulator: RedshiftWireEmulator, server: ServerAddress, database: str, fetch_size: int
) -> Iterator[RedshiftSourceRepository]:
    settings = emulator_settings(emulator, server, database, fetch_size)
    repository = RedshiftSourceRepository(lambda: connect(settings), settings.fetch_size)
    try:
        yield repository
    finally:
        repository.close()


@contextmanager
def postgres_engine(server: ServerAddress, database: str) -> Iterator[sa.Engine]:
    engine = create_engine(
        PostgresSettings(
            host=server.host,
            port=server.port,
            database=database,
            user=server.user,
            password=server.password,
        )
    )
    try:
        yield engine
    finally:
        engine.dispose()
