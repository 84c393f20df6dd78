"""Fixtures for fault injection: private wires to fault, and a ledger already on the source.

Each test gets its own emulator (and, when it attacks the target, its own plain proxy), so an
armed fault can never fire in another test's connection.
"""

from __future__ import annotations

import contextlib

import pytest

from qupersync_dagster.devkit.redshift_emulator import RedshiftWireEmulator
from qupersync_dagster_tests.faults import ledger
from qupersync_dagster_tests.faults.services import Endpoints


@pytest.fixture
def source_wire(pg_server):
    """A Redshift wire emulator for this test only: arm it to cut or stall the source.

    Strict, but multi-node and with the server's own session settings: these tests are about
    faults, not about the FETCH limit or the rendering settings a source session must handle.
    """
    with RedshiftWireEmulator(pg_server, single_node=False, session_settings={}) as emulator:
        yield emulator


@pytest.fixture
def target_wire(pg_server):
    """A plain TCP proxy to the target server for this test only: arm it to cut the target."""
    with RedshiftWireEmulator(pg_server, rewrite=False) as proxy:
        yield proxy


@pytest.fixture
def ledger_source(pg_server, source_db):
    """Three days of 400 ledger rows in the source database; yields an open connection to it."""
    with contextlib.closing(pg_server.connect(source_db)) as conn:
        ledger.create(conn)
        ledger.fill(conn, days=3, rows_per_day=400)
        yield conn


@pytest.fixture
def endpoints(pg_server, source_wire, source_db, target_db) -> Endpoints:
    """Source through ``source_wire``, target straight to the server."""
    return Endpoints(pg_server, source_wire, source_db, target_db)
