"""The emulator's command line carries the strict-mode switches and where UNLOAD writes."""

from __future__ import annotations

import contextlib

import pytest

from qupersync_dagster.devkit.redshift_emulator import RedshiftWireEmulator
from qupersync_dagster_tests.devkit.redshift_emulator.driver import connect, emulator_cli, scalar
from qupersync_dagster_tests.devkit.redshift_emulator.unloading import content, unload

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


def test_the_s3_switches_point_unload_at_an_endpoint(pg_server, source_db, local_s3) -> None:
    endpoint = local_s3.endpoint
    switches = [
        "--s3-endpoint",
        endpoint.endpoint_url,
        "--s3-region",
        endpoint.region,
        "--s3-access-key-id",
        endpoint.access_key_id,
        "--s3-secret-access-key",
        endpoint.secret_access_key,
    ]
    with emulator_cli(pg_server, *switches) as (_, host, port):
        address = RedshiftWireEmulator(pg_server, listen_host=host, listen_port=port)
        with contextlib.closing(connect(address, pg_server, source_db)) as conn:
            conn.cursor().execute(unload("SELECT 1", local_s3.url("cli/u_"), "PARALLEL OFF"))

    assert content(local_s3, "cli/u_000") == b"1\n"
