"""Watching the extract workers of the pipeline from a test: alive or not, making progress."""

from __future__ import annotations

import threading
import time

WORKER = "qupersync-extract"
PATIENCE_S = 10.0


def workers_alive() -> int:
    return sum(1 for t in threading.enumerate() if t.name == WORKER and t.is_alive())


def wait_until(condition) -> None:
    """Wait for another thread to make progress (a liveness bound, not a timing assertion)."""
    deadline = time.monotonic() + PATIENCE_S
    while not condition():
        assert time.monotonic() < deadline, "the worker made no progress"
        time.sleep(0.001)
