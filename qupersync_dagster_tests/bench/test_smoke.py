"""``python -m bench`` at a few rows: Sling and the Dagster path run, and their copies are exact.

The figures of so small a run mean nothing; what is checked is that every contender ran, that the
report shows each, and that Sling's and the Dagster path's targets equal the source. Sling is
installed into the test's own work directory (a download of about 90 MB).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.dagster_path import SYNC
from bench.processes import REPO_ROOT


@pytest.mark.integration
def test_a_small_run_reports_sling_and_the_dagster_path_with_exact_copies(tmp_path):
    output = tmp_path / "BENCHMARKS.md"

    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--smoke",
            "--rows=3000",
            "--days=3",
            "--scale=1",
            "--peers=sling",
            f"--output={output}",
            f"--work-dir={tmp_path / 'work'}",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert finished.returncode == 0, finished.stderr[-3000:]
    text = output.read_text()
    runs = [line for line in text.splitlines() if line.startswith("| ")]
    assert any(line.startswith("| Sling 1.4.11 (backfill") and "| 3,000 |" in line for line in runs)
    assert any("`dagster asset materialize`, 3 days in one run" in line for line in runs)
    assert "Its target, compared value by value: equal to the source." in text
    assert "| Every QuperSync sync leaves the target equal to the source |" in text
    # the initial sync, the Dagster path, the no-op re-sync, the re-sync of a restated day
    assert "4 syncs checked, 0 problem(s) | PASS |" in text
    assert f"| {SYNC} |" in text
