"""A strict emulator per test (its switches differ from test to test) and the real driver."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import pytest
import redshift_connector

from qupersync_dagster.devkit.embedded import ServerAddress
from qupersync_dagster.devkit.redshift_emulator import RedshiftWireEmulator
from qupersync_dagster_tests.devkit.redshift_emulator.driver import connect


@pytest.fixture
def strict_emulator(pg_server: ServerAddress) -> Iterator[RedshiftWireEmulator]:
    """A strict, single-node emulator (the defaults) for this test only."""
    with RedshiftWireEmulator(pg_server) as emulator:
        yield emulator


@pytest.fixture
def unload_emulator(pg_server: ServerAddress, local_s3) -> Iterator[RedshiftWireEmulator]:
    """A strict, single-node emulator whose UNLOAD writes to the local S3."""
    with RedshiftWireEmulator(pg_server, s3=local_s3.endpoint) as emulator:
        yield emulator


@pytest.fixture
def redshift(
    pg_server: ServerAddress, source_db: str, strict_emulator: RedshiftWireEmulator
) -> Iterator[Callable[..., redshift_connector.Connection]]:
    """Opens driver connections to ``source_db`` through ``strict_emulator`` (or another)."""
    with contextlib.ExitStack() as opened:

        def open_connection(emulator: RedshiftWireEmulator = strict_emulator):
            conn = connect(emulator, pg_server, source_db)
            return opened.enter_context(contextlib.closing(conn))

        yield open_connection
