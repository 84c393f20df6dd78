"""The servers a benchmark run talks to: one private PostgreSQL and the Redshift wire emulator.

Both the emulated Redshift source and the PostgreSQL target live on one private server, so every
contender reads and writes the same server under the same settings. The server gets the one
setting a production target would never run without, a buffer cache that holds the keyed
target's indexes (``SERVER_SETTINGS``); with the stock 128 MB every contender's load turns into
buffer evictions and re-reads, which measures the cache, not the contenders. The setting needs
a restart, so a short-lived child process creates and configures the data directory first.

The emulator runs as its own process: it stands for the network between Redshift and QuperSync,
and its CPU and memory must not be charged to the sync process being measured.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from qupersync_dagster.devkit.embedded import (
    ServerAddress,
    free_port,
    start_embedded,
    stop_embedded,
)

SERVER_SETTINGS = {"shared_buffers": "1GB"}
_STOP_TIMEOUT_S = 30


@dataclass(frozen=True)
class Servers:
    postgres: ServerAddress  # the private server (a Unix socket directory)
    emulator_host: str
    emulator_port: int


@contextlib.contextmanager
def running_servers(work_dir: Path, log_dir: Path) -> Iterator[Servers]:
    """Start a fresh private server and an emulator in front of it; both are gone afterwards."""
    data_dir = work_dir / "pg"
    stop_embedded(data_dir)  # the server of an interrupted earlier run, if any
    shutil.rmtree(data_dir, ignore_errors=True)
    subprocess.run(
        [sys.executable, "-m", "bench.servers", str(data_dir)],
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    postgres = start_embedded(data_dir, keep=False)  # starts with the settings; deleted at exit
    with _emulator(postgres, log_dir / "emulator.log") as (host, port):
        yield Servers(postgres, host, port)


def _configure(data_dir: Path) -> None:
    """Create the data directory and store ``SERVER_SETTINGS``; the server stops on return."""
    server = start_embedded(data_dir, keep=True)
    with contextlib.closing(server.connect("postgres")) as conn:
        conn.autocommit = True
        with conn.cursor() as cursor:
            for name, value in SERVER_SETTINGS.items():
                cursor.execute(f"ALTER SYSTEM SET {name} = %s", (value,))


@contextlib.contextmanager
def _emulator(upstream: ServerAddress, log_path: Path) -> Iterator[tuple[str, int]]:
    host, port = "127.0.0.1", free_port()
    command = [
        sys.executable,
        "-m",
        "qupersync_dagster.devkit.redshift_emulator",
        "--upstream-host",
        upstream.host,
        "--upstream-port",
        str(upstream.port),
        "--listen-host",
        host,
        "--port",
        str(port),
    ]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
        try:
            assert process.stdout is not None
            banner = process.stdout.readline()  # printed once the emulator listens
            if "listening" not in banner:
                raise RuntimeError(f"the Redshift wire emulator did not start (see {log_path})")
            yield host, port
        finally:
            process.terminate()
            try:
                process.wait(_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


if __name__ == "__main__":
    _configure(Path(sys.argv[1]))
