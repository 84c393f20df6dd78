"""Run contenders as child processes and read their peak memory from the kernel.

Each contender runs in a process of its own so that its peak resident set size is its own. The
figure is ``VmHWM`` from ``/proc/<pid>/status``: the high-water mark of the process's own memory
image. ``ru_maxrss`` (``getrusage``, ``wait4``) would be wrong here: Linux carries the parent's
high-water mark across ``fork`` and ``exec``, so every child would report at least the size of
the benchmark process that started it. Children written for the benchmark report their own
``VmHWM`` as they finish; other programs (``psql``) are watched from outside.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
_POLL_S = 0.02


class ChildFailed(RuntimeError):
    pass


def peak_rss_mb(pid: int | str = "self") -> float:
    """The high-water mark of the resident set of process ``pid`` (default: this one), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def run_json(command: list[str], log_path: Path, *, env: dict[str, str] | None = None) -> dict:
    """Run a child from the repository root; it prints one JSON document as its last line.

    The child's stderr is appended to ``log_path``.
    """
    with log_path.open("a") as log:
        log.write(f"$ {' '.join(command)}\n")
        log.flush()
        finished = subprocess.run(
            command,
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env={**os.environ, **(env or {})},
            check=False,
        )
    if finished.returncode != 0:
        raise ChildFailed(f"{command[0]} … exited with {finished.returncode}; see {log_path}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def watching_peaks(processes: list[subprocess.Popen]) -> Iterator[dict[int, float]]:
    """Poll the peak RSS of ``processes`` until the block ends; yields pid → MiB, kept current."""
    peaks: dict[int, float] = {p.pid: 0.0 for p in processes}
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            for pid in peaks:
                with contextlib.suppress(OSError, RuntimeError):  # not started or already gone
                    peaks[pid] = max(peaks[pid], peak_rss_mb(pid))
            stop.wait(_POLL_S)

    watcher = threading.Thread(target=poll, name="bench-rss-watcher", daemon=True)
    watcher.start()
    try:
        yield peaks
    finally:
        stop.set()
        watcher.join()
