"""What ``qupersync demo`` does, step by step, and what it tells the user along the way.

A newcomer's first minute decides whether they keep evaluating, so the demo says where everything
is (servers, databases, folders), how long the UI took, and how to stop it, and Ctrl-C always
leaves a clean machine: every exit path goes through the same shutdown.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from datetime import UTC, date, datetime, timedelta
from typing import NoReturn

import psycopg2.extensions
import psycopg2.extras

from qupersync_dagster.demo import stack
from qupersync_dagster.demo.data import (
    DEMO_TABLE,
    Databases,
    Restatement,
    demo_tables,
    generator,
    restate,
    seed,
    write_table_list,
)
from qupersync_dagster.demo.home import DemoHome, DemoState, HomeInUse
from qupersync_dagster.devkit.embedded import LOOPBACK, free_port
from qupersync_dagster.domain.entities import TableSpec
from qupersync_dagster.infrastructure.table_list import load_table_list

UI_STARTUP_TIMEOUT_S = 300.0
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class DemoError(Exception):
    """A problem the user can act on; printed without a traceback."""


def say(message: str) -> None:
    with contextlib.suppress(OSError):  # a closed terminal must not stop the shutdown
        print(f"[qupersync] {message}", flush=True)


def serve(home: DemoHome, *, rows_per_day: int, ui_port: int) -> None:
    """Run the demo until Ctrl-C (or SIGTERM), then stop everything it started."""
    try:
        with home.claimed():
            _serve(home, rows_per_day, ui_port)
    except HomeInUse:
        running = DemoState.load(home)
        where = f" (process {running.pid}, UI {running.ui_url})" if running else ""
        raise DemoError(f"a demo already runs on {home.root}{where}") from None


def _serve(home: DemoHome, rows_per_day: int, ui_port: int) -> None:
    # Lets Ctrl-C cancel a long query (the first data generation) instead of waiting for it.
    psycopg2.extensions.set_wait_callback(psycopg2.extras.wait_select)
    started = time.monotonic()
    resources = contextlib.ExitStack()
    # Ctrl-C, kill and a closed terminal all stop the demo the same way. SIGINT is set even so:
    # a shell that starts the demo in the background ignores it, and children would inherit that.
    for signum in _STOP_SIGNALS:
        signal.signal(signum, _interrupt)
    try:
        _start_and_wait(resources, home, rows_per_day, ui_port, started)
    except KeyboardInterrupt:
        say("stopping (Ctrl-C again is ignored while the servers shut down) ...")
    finally:
        for signum in _STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
        resources.close()
        say("stopped")


def _start_and_wait(
    resources: contextlib.ExitStack, home: DemoHome, rows_per_day: int, ui_port: int, started: float
) -> None:
    say(f"data folder: {home.root} (delete it to start from scratch)")
    postgres = resources.enter_context(stack.postgres(home))
    say(f"PostgreSQL: {postgres.host}:{postgres.port}, user {postgres.user}, no password")

    databases = Databases()
    today = datetime.now(UTC).date()
    say(f"preparing the source tables in {databases.source} (the first start generates them) ...")
    tables = demo_tables()
    for spec in tables:
        result = seed(postgres, spec, databases, today=today, rows_per_day=rows_per_day)
        added = f", {result.rows_added:,} of them new" if result.rows_added else ""
        say(
            f"  {spec.source}: {result.rows_total:,} rows from {result.first_day} to "
            f"{result.last_day}{added}"
        )
        if spec.name == DEMO_TABLE:
            seeded = result  # every table's partitions start with the line items' history
    write_table_list(home.table_list, tables[0], seeded.first_day)
    say(f"  {databases.source}: the emulated Redshift, holding the tables above")
    say(f"  {databases.target}: the target database (the mirrors and the daily summary)")
    say(f"  {databases.dagster}: Dagster's runs, events and schedules")

    emulator = resources.enter_context(stack.redshift_emulator(postgres))
    say(f"Redshift wire emulator: {emulator.host}:{emulator.port}, database {databases.source}")

    stack.install_dagster_home(home)
    say(f"DAGSTER_HOME: {home.dagster_home} (with QuperSync's dagster.yaml)")
    say(f"table list: {home.table_list}")
    port = free_port(ui_port)
    url = f"http://{LOOPBACK}:{port}"
    env = stack.environment(home, postgres, emulator, databases)
    say("starting dagster dev (webserver and daemon) ...")
    process = resources.enter_context(stack.dagster_dev(home, env, port))
    state = DemoState(os.getpid(), postgres, databases, emulator.host, emulator.port, url)
    state.save(home)
    resources.callback(home.state_file.unlink, missing_ok=True)

    try:
        errors = stack.wait_for_ui(url, process, UI_STARTUP_TIMEOUT_S)
    except (RuntimeError, TimeoutError) as error:
        raise DemoError(str(error)) from None
    for problem in errors:
        say(f"code location failed to load: {problem}")
    yesterday = max(seeded.first_day, seeded.last_day - timedelta(days=1))
    say(f"Dagster UI: {url}  (ready {time.monotonic() - started:.1f} s after the start)")
    say(f"  try it: open {url}/assets/{DEMO_TABLE}, Materialize, type {yesterday}, Launch 1 run")
    say(f"  re-deliver a day, from another terminal: qupersync demo --restate {yesterday}")
    say(f"  (all tables; --table {', '.join(spec.name for spec in tables)} for one)")
    say(
        "  then materialize the day again: coh_recommendations (upsert by watermark) reports "
        "the rows updated, inserted and deleted"
    )
    say("  Ctrl-C stops everything")
    process.wait()
    raise DemoError(f"dagster dev exited unexpectedly with code {process.returncode}")


def _interrupt(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt


def restate_day(home: DemoHome, day: date, table: str | None = None) -> list[Restatement]:
    """Re-deliver ``day`` of ``table`` (default: every table) in the running demo's source."""
    running = DemoState.load(home)
    if running is None:
        raise DemoError(f"no demo runs on {home.root}: start `qupersync demo` first")
    tables = load_table_list(home.table_list).tables
    names = [spec.name for spec in tables]
    if table is not None and table not in names:
        raise DemoError(f"no table {table!r} in the demo; its tables are {', '.join(names)}")
    source = running.databases.source
    results = []
    for spec in tables:
        if table is not None and spec.name != table:
            continue
        try:
            result = restate(running.postgres, spec, source, day)
        except ValueError as error:
            raise DemoError(str(error)) from None
        _report(spec, source, result)
        results.append(result)
    return results


def _report(spec: TableSpec, source: str, result: Restatement) -> None:
    words = generator(spec)
    measure = spec.measure_column or "cost"
    say(f"re-delivered {result.day} of {spec.source} in {source}, as AWS would:")
    say(f"  {words.removed.format(n=result.removed)}")
    say(f"  {words.changed.format(n=result.changed)}")
    say(f"  {words.added.format(n=result.added)}")
    say(f"  rows: {result.before.rows} -> {result.after.rows}")
    say(f"  sum of {measure}: {result.before.cost} -> {result.after.cost}")
    say(
        f"partition {result.day} of {spec.name} is now out of date: materialize it again, or "
        f"turn on its restatement sensor (Automation page), which finds it within "
        f"{stack.DEMO_SENSOR_INTERVAL_S} s"
    )
