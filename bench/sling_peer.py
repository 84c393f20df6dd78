"""The second peer: Sling, a Go binary that streams with COPY, run against the benchmark's servers.

Sling comes as the ``sling-linux-amd64`` wheel (the binary inside a Python package), installed
into ``bench/.work/sling-venv`` (see ``bench/venvs.py``) with the pinned version below; the binary
runs as a process of its own, with Sling's telemetry off and its home in the work directory.

One replication: ``mode: backfill`` of the benchmark's days on the partition column
(``update_key``; ``range`` from the first day to the day after the last, both included by Sling,
and the source has no row at that last midnight) with ``primary_key`` the CUR key, so Sling merges
on the key, into a table made beforehand with the columns, primary key and indexes of QuperSync's
target. Sling reads the PostgreSQL database behind the Redshift emulator directly, which favours
Sling: its Redshift connector, without AWS credentials for UNLOAD to S3, falls back to a cursor
that never finishes against the emulator.

Sling is measured as a whole process (wall time, peak RSS watched from outside, as for ``psql``),
and so is its fixed start-up: the same replication over a range with no rows (the days before the
first), which starts the binary, connects to both databases, reads the table's columns, creates
and drops Sling's temporary table and moves nothing. Rows/s with the start-up subtracted counts
the rows over the difference of the two.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import yaml
from psycopg2 import sql

from bench import processes, venvs
from bench.checksum import Table
from qupersync_dagster.devkit.embedded import ServerAddress

SLING_VERSION = "1.4.11"
PINS = (f"sling-linux-amd64=={SLING_VERSION}",)
_BINARY = "sling_linux_amd64/bin/sling-linux-amd64"
# Names of the two connections in the replication; their URLs are passed in the environment.
_SOURCE, _TARGET = "BENCH_SOURCE", "BENCH_TARGET"


@dataclass(frozen=True)
class SlingRun:
    rows: int
    seconds: float  # the whole process
    peak_rss_mb: float


def ensure_binary(work_dir: Path, log_path: Path) -> tuple[Path, float]:
    """The Sling binary, installing it if needed; and the seconds the install took."""
    venv = work_dir / "sling-venv"
    seconds = venvs.ensure(venv, PINS, log_path)
    [binary] = venv.glob(f"lib/python*/site-packages/{_BINARY}")
    return binary, seconds


@dataclass(frozen=True)
class Replication:
    """One stream: ``source`` backfilled into ``target`` by partition column, merged by key."""

    source: Table
    target: Table
    partition_column: str
    primary_key: tuple[str, ...]

    def config(self, first: date, end: date) -> dict:
        stream = {
            "object": f"{self.target.schema}.{self.target.name}",
            "primary_key": list(self.primary_key),
            "update_key": self.partition_column,
            "source_options": {"range": f"{first.isoformat()},{end.isoformat()}"},
        }
        return {
            "source": _SOURCE,
            "target": _TARGET,
            "defaults": {"mode": "backfill"},
            "streams": {f"{self.source.schema}.{self.source.name}": stream},
        }


def run(
    binary: Path,
    server: ServerAddress,
    replication: Replication,
    *,
    first: date,
    end: date,
    work_dir: Path,
    log_path: Path,
) -> SlingRun:
    """One Sling process backfilling ``[first, end)``; rows are those of the target afterwards."""
    path = work_dir / "sling-replication.yaml"
    path.write_text(yaml.safe_dump(replication.config(first, end), sort_keys=False))
    env = {
        **os.environ,
        _SOURCE: _url(server, replication.source.database),
        _TARGET: _url(server, replication.target.database),
        "SLING_HOME_DIR": str(work_dir / "sling-home"),
        "SLING_DISABLE_TELEMETRY": "true",
    }
    with log_path.open("a") as log:
        log.write(f"$ {binary} run -r {path}  (range {first}..{end})\n")
        log.flush()
        started = time.perf_counter()
        process = subprocess.Popen(
            [str(binary), "run", "-r", str(path)], stdout=log, stderr=log, env=env
        )
        with processes.watching_peaks([process]) as peaks:
            process.wait()
        seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise processes.ChildFailed(f"sling exited with {process.returncode}; see {log_path}")
    return SlingRun(_count(server, replication.target), seconds, peaks[process.pid])


def startup(
    binary: Path, server: ServerAddress, replication: Replication, *, first: date, **paths: Path
) -> SlingRun:
    """Sling's fixed cost: the same replication over the two days before ``first`` (no rows)."""
    before = first - timedelta(days=1)  # a range includes its end
    return run(binary, server, replication, first=before - timedelta(days=1), end=before, **paths)


def _url(server: ServerAddress, database: str) -> str:
    return server.url(database) + ("&" if server.is_unix_socket else "?") + "sslmode=disable"


def _count(server: ServerAddress, table: Table) -> int:
    with contextlib.closing(server.connect(table.database)) as conn, conn.cursor() as cursor:
        cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(table.qualified))
        return cursor.fetchone()[0]
