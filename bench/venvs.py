"""A peer's own virtualenv under ``bench/.work``, made with pinned versions and reused after.

The peers' dependencies must never constrain QuperSync's, so each lives in a virtualenv of its
own (git-ignored), created on first use and reused while its pins are unchanged.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

_MARKER = "qupersync-bench-pins.txt"


def ensure(venv: Path, pins: tuple[str, ...], log_path: Path) -> float:
    """Make ``venv`` hold ``pins`` unless it already does; the seconds an install took, or 0."""
    python = venv / "bin" / "python"
    marker = venv / _MARKER
    wanted = "\n".join(pins)
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return 0.0
    started = time.perf_counter()
    shutil.rmtree(venv, ignore_errors=True)
    with log_path.open("a") as log:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, stdout=log)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", *pins],
            check=True,
            stdout=log,
            stderr=log,
        )
    marker.write_text(wanted)
    return time.perf_counter() - started
