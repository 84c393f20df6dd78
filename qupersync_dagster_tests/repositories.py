"""QuperSync's real repositories opened on the test servers, the way production opens them.

The source always goes through the real ``redshift_connector`` driver and the wire emulator, so a
test cannot accidentally read the source over psycopg2 and miss a driver-specific behaviour.
Everything is opened by ``qupersync_dagster.bootstrap``, as the Dagster resources open it.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import sqlalchemy as sa

from qupersync_dagster import bootstrap
from qupersync_dagster.devkit.embedded import ServerAddress
from qupersync_dagster.devkit.local_s3 import S3Bucket
from qupersync_dagster.devkit.redshift_emulator import RedshiftWireEmulator
from qupersync_dagster.domain.services.sync_service import SyncService
from qupersync_dagster.infrastructure.postgres.connector import PostgresSettings
from qupersync_dagster.infrastructure.redshift.connector import RedshiftSettings
from qupersync_dagster.infrastructure.redshift.repository import RedshiftSourceRepository

# Any well-formed ARN: the emulator checks its form, not an IAM policy.
UNLOAD_ROLE = "arn:aws:iam::123456789012:role/qupersync-unload"


def staging_settings(bucket: S3Bucket, readers: int = 4) -> dict:
    """``RedshiftSettings`` fields UNLOADing into ``bucket`` of the local S3."""
    return {
        "unload_bucket": bucket.bucket,
        "unload_prefix": "staging/",
        "unload_region": bucket.region,
        "unload_iam_role": UNLOAD_ROLE,
        "unload_endpoint_url": bucket.endpoint_url or "",
        "unload_readers": readers,
    }


def redshift_settings(
    emulator: RedshiftWireEmulator,
    server: ServerAddress,
    database: str,
    fetch_size: int = 2_000,
    **staging,
) -> RedshiftSettings:
    """Settings reaching ``database`` through the emulator, as the server's own user, with
    ``staging`` (``staging_settings``) when days may be UNLOADed."""
    return RedshiftSettings(
        host=emulator.host,
        port=emulator.port,
        database=database,
        user=server.user,
        password="emulator-trusts-any-password",
        ssl=False,
        timeout_s=30,
        fetch_size=fetch_size,
        **staging,
    )


def postgres_settings(server: ServerAddress, database: str) -> PostgresSettings:
    return PostgresSettings(
        host=server.host,
        port=server.port,
        database=database,
        user=server.user,
        password=server.password,
    )


def redshift_source(
    emulator: RedshiftWireEmulator, server: ServerAddress, database: str, fetch_size: int
) -> AbstractContextManager[RedshiftSourceRepository]:
    return bootstrap.open_source(redshift_settings(emulator, server, database, fetch_size))


def postgres_engine(server: ServerAddress, database: str) -> AbstractContextManager[sa.Engine]:
    return bootstrap.open_engine(postgres_settings(server, database))


def sync_service(
    emulator: RedshiftWireEmulator,
    server: ServerAddress,
    source_db: str,
    target_db: str,
    fetch_size: int,
    **staging,
) -> AbstractContextManager[SyncService]:
    """The production wiring: the driver through the emulator, the target through SQLAlchemy."""
    return bootstrap.open_sync_service(
        redshift_settings(emulator, server, source_db, fetch_size, **staging),
        postgres_settings(server, target_db),
    )
