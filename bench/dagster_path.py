"""The Dagster path: the days as one single-run backfill through ``dagster asset materialize``.

What a user runs to backfill a range, measured as a whole process: ``python -m dagster asset
materialize -m qupersync_dagster.definitions --select cur_line_items --partition-range
FIRST...LAST`` from the repository root, on a warm instance. The instance is QuperSync's own
``dagster.yaml`` (its storage class, runs and event logs in PostgreSQL, on the benchmark's
private server, database ``bench_dagster``), made in ``bench/.work/dagster-home`` before the
first timed run and warmed by one run of a single day into a scratch target, so that the timed
runs find Dagster's storage created and Python's bytecode cached. The code location gets its
table list and connections from ``QUPERSYNC_CONFIG`` and the ``REDSHIFT_*``/``POSTGRES_*``
variables, as in production; it reads through the Redshift wire emulator, as every QuperSync run
does.

After the run its event log is read back from the instance to split the whole process into the
sync and everything else. The sync is the asset's ``sync_s`` from the run's totals log line: the
engine's own span, timed as the engine benchmark times ``SyncService.sync`` (from opening the
connections to the last day's commit: pre-flight, the source's fingerprints of the range, the
stored states and every day's read and load, the days overlapping as read-ahead runs them), less
the moment Dagster takes to store the schema check's result. Everything else: start-up (imports
and definitions until the run's first event; then to ``RUN_START``), the asset's step around its
sync (until its code starts; the check result stored and the reads after the sync; the totals
logged and the days' materialisations until the step's end), each check's step, the run's own
bookkeeping between steps, and the process's exit.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import yaml

from bench import processes
from bench.cur_source import PARTITION_COLUMN, SCHEMA, TABLE
from bench.qupersync_child import PRIMARY_KEY, TARGET
from qupersync_dagster.devkit.embedded import ServerAddress

STORAGE_DB = "bench_dagster"
ASSET = TABLE
TOTALS_LOG = f"{ASSET}: {{"  # the asset's log line of the run's totals, JSON after ": "
SYNC = "sync (the engine's span: connections, pre-flight, fingerprints, every day's load)"


@dataclass(frozen=True)
class Instance:
    home: Path  # DAGSTER_HOME
    env: dict[str, str]  # without POSTGRES_DATABASE, which each run names


@dataclass(frozen=True)
class DagsterRun:
    rows: int
    seconds: float  # the whole process
    peak_rss_mb: float
    sync_seconds: float  # the engine's span in the asset (its ``sync_s``)
    phases: dict[str, float]  # the whole process, phase by phase (sums to ``seconds``)
    outcomes: dict[str, str]  # day -> outcome, from the days' materialisations

    @property
    def overhead_seconds(self) -> float:
        return self.seconds - self.sync_seconds


def prepare(
    work_dir: Path,
    server: ServerAddress,
    *,
    emulator: tuple[str, int],
    source_db: str,
    start: date,
    fetch_size: int | None,
) -> Instance:
    """A fresh instance and code-location environment for the benchmark's CUR table."""
    home = work_dir / "dagster-home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    server.create_database(STORAGE_DB, replace=True)
    instance = yaml.safe_load((processes.REPO_ROOT / "dagster.yaml").read_text())
    instance["storage"] = _pointed_at(instance["storage"], _storage_url(server))
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance, sort_keys=False))
    tables = home / "tables.yaml"
    tables.write_text(yaml.safe_dump({"tables": [_table_entry(start)]}, sort_keys=False))
    host, port = emulator
    env = {
        "DAGSTER_HOME": str(home),
        "QUPERSYNC_CONFIG": str(tables),
        "REDSHIFT_HOST": host,
        "REDSHIFT_PORT": str(port),
        "REDSHIFT_DATABASE": source_db,
        "REDSHIFT_USER": server.user,
        "REDSHIFT_PASSWORD": "emulator-trusts-any-password",
        "REDSHIFT_SSL": "false",
        "POSTGRES_HOST": server.host,
        "POSTGRES_PORT": str(server.port),
        "POSTGRES_USER": server.user,
        "POSTGRES_PASSWORD": server.password,
    }
    if fetch_size:
        env["REDSHIFT_FETCH_SIZE"] = str(fetch_size)
    return Instance(home, env)


def warm_up(instance: Instance, server: ServerAddress, *, day: date, log_path: Path) -> None:
    """One run of ``day`` into a scratch target: Dagster's storage made, bytecode cached."""
    scratch = f"{STORAGE_DB}_warm_up"
    server.create_database(scratch, replace=True)
    materialize(instance, target_db=scratch, first=day, last=day, log_path=log_path)
    server.drop_database(scratch)


def materialize(
    instance: Instance, *, target_db: str, first: date, last: date, log_path: Path
) -> DagsterRun:
    """Backfill ``first``..``last`` (inclusive) into ``target_db`` in one run; timed whole."""
    command = [
        sys.executable,
        "-m",
        "dagster",
        "asset",
        "materialize",
        "-m",
        "qupersync_dagster.definitions",
        "--select",
        ASSET,
        "--partition-range",
        f"{first.isoformat()}...{last.isoformat()}",
    ]
    env = {**os.environ, **instance.env, "POSTGRES_DATABASE": target_db}
    with log_path.open("a") as log:
        log.write(f"$ {' '.join(command)}\n")
        log.flush()
        began = time.time()  # the event log's clock
        started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=processes.REPO_ROOT, stdout=log, stderr=log, env=env
        )
        with processes.watching_peaks([process]) as peaks:
            process.wait()
        seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise processes.ChildFailed(f"dagster exited with {process.returncode}; see {log_path}")
    return _read_run(instance, began, seconds, peaks[process.pid])


def _read_run(instance: Instance, began: float, seconds: float, peak_rss_mb: float) -> DagsterRun:
    """The latest run's figures, from the instance's event log."""
    from dagster import DagsterEventType, DagsterInstance

    with DagsterInstance.from_config(str(instance.home)) as dagster:
        [run] = dagster.get_runs(limit=1)
        entries = dagster.all_logs(run.run_id)
    at: dict[tuple[DagsterEventType, str | None], float] = {}
    days: dict[str, dict] = {}
    totals: tuple[float, dict] | None = None  # when the totals were logged, and what they say
    for entry in entries:
        event = entry.dagster_event
        if event is None:
            if entry.user_message.startswith(TOTALS_LOG):
                totals = entry.timestamp, json.loads(entry.user_message.split(": ", 1)[1])
            continue
        at.setdefault((event.event_type, entry.step_key), entry.timestamp)
        if event.event_type is DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.step_materialization_data.materialization
            metadata = {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}
            if materialization.partition is not None:
                days[materialization.partition] = metadata
    if totals is None:
        raise RuntimeError(f"the run logged no totals line ({TOTALS_LOG!r}...)")
    logged, figures = totals
    asset = Totals(logged, figures["sync_s"], figures["duration_s"])
    return DagsterRun(
        rows=sum(metadata.get("rows_extracted", 0) for metadata in days.values()),
        seconds=seconds,
        peak_rss_mb=peak_rss_mb,
        sync_seconds=asset.sync_s,
        phases=_phases(at, began, seconds, asset),
        outcomes={day: str(metadata.get("outcome")) for day, metadata in sorted(days.items())},
    )


@dataclass(frozen=True)
class Totals:
    """The asset's totals line: when it was logged, its sync's seconds, its work's seconds."""

    logged: float  # the event log's clock
    sync_s: float  # the engine's span
    duration_s: float  # from opening the connections to the line: the sync, the reads after it


def _phases(at: dict, began: float, seconds: float, totals: Totals) -> dict[str, float]:
    """The whole process, phase by phase, from the first time each (event, step) was logged."""
    from dagster import DagsterEventType as Type

    first_event = min(at.values())  # the run's record and its planned materialisations
    run_start, run_end = at[(Type.RUN_START, None)], at[(Type.RUN_SUCCESS, None)]
    steps = {
        key: (start, at.get((Type.STEP_SUCCESS, key), at.get((Type.STEP_FAILURE, key), run_end)))
        for (kind, key), start in at.items()
        if kind is Type.STEP_START
    }
    phases = {
        "start-up: imports, definitions, until the run is recorded": first_event - began,
        "start-up: run recorded to RUN_START": run_start - first_event,
    }
    for key, (start, end) in sorted(steps.items()):
        if key == ASSET:
            phases.update(_asset_step(start, end, totals))
        else:
            phases[f"step {key}"] = end - start
    phases["run bookkeeping between steps"] = (
        run_end - run_start - sum(end - start for start, end in steps.values())
    )
    phases["exit (RUN_SUCCESS to process end)"] = began + seconds - run_end
    return phases


def _asset_step(start: float, end: float, totals: Totals) -> dict[str, float]:
    """The asset's step: until its code starts, the sync, the reads after it, its results."""
    began = totals.logged - totals.duration_s  # the asset opened its connections
    return {
        "asset step: resources, until the asset's code opens its connections": began - start,
        SYNC: totals.sync_s,
        "asset step: check result stored; schema, previews, unchanged days' fingerprints read": (
            totals.duration_s - totals.sync_s
        ),
        "asset step: the run's totals logged, the days' materialisations, to the step's end": (
            end - totals.logged
        ),
    }


def _table_entry(start: date) -> dict:
    """The benchmark's CUR table as the shipped example configures it (bench.qupersync_child)."""
    return {
        "name": ASSET,
        "source": f"{SCHEMA}.{TABLE}",
        "target": f"{TARGET.schema}.{TARGET.name}",
        "partition_column": PARTITION_COLUMN,
        "start_date": start.isoformat(),
        "mode": "replace",
        "primary_key": list(PRIMARY_KEY),
        "measure_column": "line_item_unblended_cost",
    }


def _pointed_at(storage: dict, url: str) -> dict:
    """The storage ``dagster.yaml`` configures (its class kept), connected to ``url``."""
    [(kind, settings)] = storage.items()
    if kind == "custom":
        return {kind: {**settings, "config": {"postgres_url": url}}}
    return {kind: {"postgres_url": url}}


def _storage_url(server: ServerAddress) -> str:
    # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; dagster-postgres ships psycopg2.
    return server.url(STORAGE_DB).replace("postgresql://", "postgresql+psycopg2://", 1)


def last_day(start: date, days: int) -> date:
    return start + timedelta(days=days - 1)
