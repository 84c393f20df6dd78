"""The emulator's command line carries the strict-mode switches."""

from __future__ import annotations

import contextlib

import pytest

from qupersync_dagster.devkit.redshift_emulator import RedshiftWireEmulator
from qupersync_dagster_tests.devkit.redshift_emulator.driver import connect, emulator_cli, scalar

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("switches", "strict", "nodes"),
    [([], True, 1), (["--multi-node"], True, 2), (["--no-strict"], False, None)],
)
def test_the_command_line_switches_set_the_rules(
    pg_server, source_db, switches, strict, nodes
) -> None:
    with emulator_cli(pg_server, *switches) as (_, host, port):
        address = RedshiftWireEmulator(pg_server, listen_host=host, listen_port=port)
        with contextlib.closing(connect(address, pg_server, source_db)) as conn:
            assert (scalar(conn, "SHOW DateStyle") == "SQL, DMY") is strict
            if nodes is not None:
                assert scalar(conn, "SELECT COUNT(DISTINCT node) FROM stv_slices") == nodes
