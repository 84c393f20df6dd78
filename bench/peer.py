"""dlt, installed into a virtualenv of its own and run against the benchmark's servers.

dlt lives in ``bench/.work/dlt-venv`` (see ``bench/venvs.py``), with the pinned versions below.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from bench import processes, venvs
from qupersync_dagster.devkit.embedded import ServerAddress

DLT_VERSION = "1.31.0"
PINS = (
    f"dlt[postgres,sql_database]=={DLT_VERSION}",
    "pyarrow==22.0.0",
    "psycopg2-binary==2.9.11",
    "sqlalchemy==2.0.44",
)
SCRIPT = Path(__file__).with_name("dlt_peer.py")


@dataclass(frozen=True)
class PeerResult:
    rows: int
    seconds: float
    peak_rss_mb: float


def ensure_venv(work_dir: Path, log_path: Path) -> tuple[Path, float]:
    """The peer's interpreter, installing it if needed; and the seconds the install took."""
    venv = work_dir / "dlt-venv"
    return venv / "bin" / "python", venvs.ensure(venv, PINS, log_path)


def run(
    python: Path,
    server: ServerAddress,
    *,
    source_db: str,
    source_schema: str,
    table: str,
    target_db: str,
    dataset: str,
    primary_key: tuple[str, ...],
    work_dir: Path,
    log_path: Path,
) -> PeerResult:
    pipelines_dir = work_dir / "dlt-pipelines"
    shutil.rmtree(pipelines_dir, ignore_errors=True)
    report = processes.run_json(
        [
            str(python),
            str(SCRIPT),
            f"--socket-dir={server.host}",
            f"--port={server.port}",
            f"--user={server.user}",
            f"--source-db={source_db}",
            f"--source-schema={source_schema}",
            f"--table={table}",
            f"--target-db={target_db}",
            f"--dataset={dataset}",
            f"--primary-key={','.join(primary_key)}",
            f"--pipelines-dir={pipelines_dir}",
        ],
        log_path,
        env={"RUNTIME__LOG_LEVEL": "WARNING"},
    )
    shutil.rmtree(pipelines_dir, ignore_errors=True)
    return PeerResult(report["rows"], report["seconds"], report["peak_rss_mb"])
