"""The demo's servers and Dagster home, each started and stopped on its own."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

import dagster as dg
import pytest
import yaml

import qupersync_dagster
from qupersync_dagster.definitions import resources
from qupersync_dagster.demo import stack
from qupersync_dagster.demo.data import Databases
from qupersync_dagster.demo.home import DemoHome
from qupersync_dagster.devkit.embedded import LOOPBACK, server_pid
from qupersync_dagster.infrastructure.redshift.connector import connect

pytestmark = pytest.mark.integration

REPOSITORY = Path(qupersync_dagster.__file__).parents[1]


def _accepts_connections(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex((LOOPBACK, port)) == 0


def test_dagster_home_holds_the_production_dagster_yaml_and_the_workspace(tmp_path):
    home = DemoHome(tmp_path)
    stack.install_dagster_home(home)
    production = (REPOSITORY / "dagster.yaml").read_bytes()
    assert (home.dagster_home / "dagster.yaml").read_bytes() == production
    workspace = yaml.safe_load((REPOSITORY / "workspace.yaml").read_text())
    assert yaml.safe_load((home.dagster_home / "workspace.yaml").read_text()) == workspace


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> DemoHome:
    return DemoHome(tmp_path_factory.mktemp("demo_home"))


def test_postgres_listens_on_the_loopback_stops_clean_and_keeps_its_data(home):
    with stack.postgres(home) as first:
        assert first.host == LOOPBACK and _accepts_connections(first.port)
        first.create_database("kept")
    assert server_pid(home.pgdata) is None
    assert not _accepts_connections(first.port)
    with stack.postgres(home) as second, contextlib.closing(second.connect("kept")) as conn:
        assert conn.server_version >= 180000
    assert server_pid(home.pgdata) is None


@pytest.fixture
def taken_redshift_port():
    """Port 5439 held by a listener, as another local emulator or tunnel would."""
    with socket.socket() as holder:
        try:
            holder.bind((LOOPBACK, stack.REDSHIFT_PORT))
        except OSError:  # already taken by something else: just as good
            yield
            return
        holder.listen()
        yield


def test_the_environment_reaches_the_demo_servers_through_the_resources(
    home, monkeypatch, taken_redshift_port
):
    databases = Databases("qs_env_source", "qs_env_target", "qs_env_dagster")
    with stack.postgres(home) as postgres, stack.redshift_emulator(postgres) as emulator:
        assert emulator.port != stack.REDSHIFT_PORT
        for name in (databases.source, databases.target):
            postgres.create_database(name)
        for name, value in stack.environment(home, postgres, emulator, databases).items():
            monkeypatch.setenv(name, value)
        with dg.build_resources(resources()) as built:
            redshift = contextlib.closing(connect(built.redshift.settings()))
            with redshift as conn, contextlib.closing(conn.cursor()) as cursor:
                cursor.execute("SELECT current_database()")
                assert cursor.fetchone()[0] == databases.source
            with built.postgres.get_engine() as engine, engine.connect() as conn:
                assert conn.exec_driver_sql("SELECT current_database()").scalar() == (
                    databases.target
                )
    assert not _accepts_connections(emulator.port)
