"""The emulator's command line carries the strict-mode switches."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

import qupersync_dagster
from qupersync_dagster.devkit.redshift_emulator import RedshiftWireEmulator
from qupersync_dagster_tests.devkit.redshift_emulator.driver import connect, scalar

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("switches", "strict", "nodes"),
    [([], True, 1), (["--multi-node"], True, 2), (["--no-strict"], False, None)],
)
def test_the_command_line_switches_set_the_rules(
    pg_server, source_db, switches, strict, nodes
) -> None:
    command = [
        sys.executable,
        "-m",
        "qupersync_dagster.devkit.redshift_emulator",
        "--upstream-host",
        pg_server.host,
        "--upstream-port",
        str(pg_server.port),
        "--port",
        "0",
        *switches,
    ]
    repo_root = Path(qupersync_dagster.__file__).resolve().parents[1]
    with subprocess.Popen(command, cwd=repo_root, stdout=subprocess.PIPE, text=True) as cli:
        try:
            assert cli.stdout is not None
            host, port = re.search(r"listening on ([\d.]+):(\d+)", cli.stdout.readline()).groups()
            address = RedshiftWireEmulator(pg_server, listen_host=host, listen_port=int(port))
            with contextlib.closing(connect(address, pg_server, source_db)) as conn:
                assert (scalar(conn, "SHOW DateStyle") == "SQL, DMY") is strict
                if nodes is not None:
                    assert scalar(conn, "SELECT COUNT(DISTINCT node) FROM stv_slices") == nodes
        finally:
            cli.kill()
