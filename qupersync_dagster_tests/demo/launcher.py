"""Run ``qupersync demo`` as a user would, in a data folder of its own; every wait bounded."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psutil

from qupersync_dagster.demo.defaults import HOME_ENV
from qupersync_dagster.demo.home import DemoHome, DemoState
from qupersync_dagster.devkit.embedded import server_pid, stop_embedded

# A cold start generates data and imports Dagster in four processes; CI machines are slow.
READY_TIMEOUT_S = 360.0
STOP_TIMEOUT_S = 150.0
_READY = re.compile(r"\[qupersync\] Dagster UI: (http://\S+)")
_DAY_COUNT = """
SELECT count(*) FROM {table}
WHERE line_item_usage_start_date >= %s AND line_item_usage_start_date < %s::date + 1
"""
_LATEST_DAY = "SELECT max(line_item_usage_start_date)::date FROM billing.cur_line_items"


def console_script(name: str) -> str:
    """The venv's console script, as ``pip install -e .`` put it next to this Python."""
    return str(Path(sys.executable).parent / name)


@dataclass
class RunningDemo:
    process: subprocess.Popen
    home: DemoHome
    log: Path
    url: str = ""

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_until_ready(self) -> str:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if match := _READY.search(self.output()):
                self.url = match.group(1)
                return self.url
            if self.process.poll() is not None:
                raise AssertionError(f"the demo exited with code {self.process.returncode}")
            time.sleep(0.5)
        raise AssertionError(f"the demo was not ready after {READY_TIMEOUT_S:.0f} s")

    def state(self) -> DemoState:
        state = DemoState.load(self.home)
        assert state is not None, "the running demo left no state file"
        return state

    def count_day(self, database: str, table: str, day: date) -> int:
        """Rows of ``table`` whose usage starts on ``day``, counted by PostgreSQL directly."""
        rows = self.query(database, _DAY_COUNT.format(table=table), (day, day))
        return rows[0][0]

    def latest_day(self) -> date:
        """The newest usage day of the line items in the demo's source."""
        return self.query(self.state().databases.source, _LATEST_DAY)[0][0]

    def query(self, database: str, query: str, parameters: tuple = ()) -> list[tuple]:
        """Every row ``query`` returns from ``database`` of the demo's PostgreSQL."""
        connection = self.state().postgres.connect(database)
        with contextlib.closing(connection), connection.cursor() as cursor:
            cursor.execute(query, parameters)
            return cursor.fetchall()

    def interrupt(self) -> int:
        """Ctrl-C, as in the terminal; the demo's exit code."""
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(STOP_TIMEOUT_S)

    def tree(self) -> list[psutil.Process]:
        """Every process the demo started and still has: children, grandchildren, the server."""
        processes = psutil.Process(self.process.pid).children(recursive=True)
        pid = server_pid(self.home.pgdata)
        if pid is not None:
            with contextlib.suppress(psutil.NoSuchProcess):
                processes.append(psutil.Process(pid))
        return processes


@contextlib.contextmanager
def running_demo(root: Path, log: Path, *extra_args: str) -> Iterator[RunningDemo]:
    """``qupersync demo --home ROOT``; whatever a test leaves running is stopped afterwards."""
    env = {name: value for name, value in os.environ.items() if name != HOME_ENV}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [console_script("qupersync"), "demo", "--home", str(root), *extra_args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    demo = RunningDemo(process, DemoHome.resolve(root), log)
    try:
        yield demo
    finally:
        _stop_for_good(demo)


def _stop_for_good(demo: RunningDemo) -> None:
    if demo.process.poll() is None:
        leftovers = demo.tree()
        with contextlib.suppress(subprocess.TimeoutExpired):
            demo.interrupt()
        if demo.process.poll() is None:
            demo.process.kill()
            demo.process.wait()
        for process in leftovers:
            with contextlib.suppress(psutil.NoSuchProcess):
                if process.pid != server_pid(demo.home.pgdata):
                    process.kill()
    stop_embedded(demo.home.pgdata)
