"""The ``qupersync`` console script, run as a user runs it: help, a live demo, --restate, Ctrl-C.

``qupersync doctor`` itself is tested in ``doctor/test_command.py``.
"""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import psutil
import pytest

from qupersync_dagster.devkit.embedded import server_pid
from qupersync_dagster_tests.demo.launcher import console_script, running_demo

pytestmark = pytest.mark.integration

ROWS_PER_DAY = 20
SOURCE_TABLE = "billing.cur_line_items"
DAY_ROWS = f"""
SELECT identity_line_item_id || '/' || identity_time_interval, line_item_unblended_cost::numeric
FROM {SOURCE_TABLE}
WHERE line_item_usage_start_date >= %s AND line_item_usage_start_date < %s::date + 1
"""


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [console_script("qupersync"), *args], capture_output=True, text=True, timeout=60
    )


def test_demo_help_names_every_option():
    result = _run("demo", "--help")
    assert result.returncode == 0, result.stderr
    for option in ("--home", "--rows-per-day", "--ui-port", "--restate", "--table"):
        assert option in result.stdout


def test_table_without_restate_is_refused(tmp_path):
    result = _run("demo", "--home", str(tmp_path), "--table", "focus_costs")
    assert result.returncode == 2
    assert "--table goes with --restate" in result.stderr


def test_doctor_is_a_command_that_says_it_writes_nothing():
    listed = _run("--help")
    result = _run("doctor", "--help")
    assert result.returncode == 0, result.stderr
    assert "doctor" in listed.stdout
    assert "Writes nothing" in result.stdout and "Exits 1 when any problem" in result.stdout


def test_restate_without_a_running_demo_says_so(tmp_path):
    result = _run("demo", "--home", str(tmp_path), "--restate", "2026-11-20")
    assert result.returncode == 1
    assert "no demo runs" in result.stderr


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    log = root.parent / f"{root.name}.log"
    with running_demo(root, log, "--rows-per-day", str(ROWS_PER_DAY), "--ui-port", "0") as demo:
        try:
            demo.wait_until_ready()
        except AssertionError as error:
            raise AssertionError(f"{error}; its output is in {log}:\n{demo.output()}") from None
        yield demo


def _day_rows(demo, day: date) -> dict[str, Decimal]:
    state = demo.state()
    connection = state.postgres.connect(state.databases.source)
    with contextlib.closing(connection), connection.cursor() as cursor:
        cursor.execute(DAY_ROWS, (day, day))
        return dict(cursor.fetchall())


def _reported(pattern: str, output: str) -> list[str]:
    match = re.search(pattern, output)
    assert match, f"{pattern!r} not in:\n{output}"
    return list(match.groups())


def test_restate_changes_exactly_what_it_reports(demo):
    day = datetime.now(UTC).date() - timedelta(days=2)
    before = _day_rows(demo, day)
    result = _run("demo", "--home", str(demo.home.root), "--restate", day.isoformat())
    assert result.returncode == 0, result.stderr
    after = _day_rows(demo, day)

    removed = before.keys() - after.keys()
    added = after.keys() - before.keys()
    changed = {key for key in before.keys() & after.keys() if before[key] != after[key]}
    assert removed and added and changed
    out = result.stdout
    assert _reported(r"removed (\d+) line items", out) == [str(len(removed))]
    assert _reported(r"changed the costs of (\d+) line items", out) == [str(len(changed))]
    assert _reported(r"added (\d+) late credits", out) == [str(len(added))]
    assert _reported(r"rows: (\d+) -> (\d+)", out) == [str(len(before)), str(len(after))]
    costs = _reported(r"line_item_unblended_cost: (\S+) -> (\S+)", out)
    assert [Decimal(cost) for cost in costs] == [sum(before.values()), sum(after.values())]


def test_restate_of_one_table_leaves_the_others_alone(demo):
    day = datetime.now(UTC).date() - timedelta(days=3)
    before = _day_rows(demo, day)
    home = str(demo.home.root)
    result = _run("demo", "--home", home, "--restate", day.isoformat(), "--table", "focus_costs")
    assert result.returncode == 0, result.stderr
    assert "billing.focus_costs" in result.stdout
    assert SOURCE_TABLE not in result.stdout
    assert _day_rows(demo, day) == before

    unknown = _run("demo", "--home", home, "--restate", day.isoformat(), "--table", "nope")
    assert unknown.returncode == 1
    assert "cur_line_items, focus_costs, coh_recommendations" in unknown.stderr


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_second_demo_on_the_same_folder_refuses_to_start(demo):
    result = _run("demo", "--home", str(demo.home.root), "--ui-port", "0")
    assert result.returncode == 1
    assert f"a demo already runs on {demo.home.root} (process {demo.process.pid}" in result.stderr


def _accepts_connections(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


# Runs last in this module: it stops the demo the other tests share.
def test_ctrl_c_stops_every_process_and_frees_every_port(demo):
    state = demo.state()
    ports = {
        "postgres": state.postgres.port,
        "redshift": state.redshift_port,
        "ui": int(state.ui_url.rsplit(":", 1)[1]),
    }
    tree = demo.tree()
    names = " ".join(" ".join(process.cmdline()) for process in tree)
    assert "dagster" in names and "postgres" in names
    assert all(_accepts_connections(port) for port in ports.values())

    assert demo.interrupt() == 0

    assert [process for process in tree if _alive(process)] == []
    assert server_pid(demo.home.pgdata) is None
    assert {name: port for name, port in ports.items() if _accepts_connections(port)} == {}
    assert not demo.home.state_file.exists()
