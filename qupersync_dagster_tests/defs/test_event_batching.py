"""Both code locations let Dagster batch a run's event writes, unless the deployment chose."""

from __future__ import annotations

import os
import subprocess
import sys

from qupersync_dagster.defs.event_batching import EVENT_BATCH_SIZE

LOCATIONS = ("qupersync_dagster.definitions", "qupersync_dagster.dg_project")
VARIABLE = "DAGSTER_EVENT_BATCH_SIZE"


def _batch_size_after_loading(module: str, **env: str) -> str:
    inherited = {k: v for k, v in os.environ.items() if k != VARIABLE}
    completed = subprocess.run(
        [sys.executable, "-c", f"import os, {module}; print(os.environ['{VARIABLE}'])"],
        env=inherited | env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return completed.stdout.strip()


def test_loading_a_code_location_sets_the_batch_size_when_unset():
    for module in LOCATIONS:
        assert _batch_size_after_loading(module) == str(EVENT_BATCH_SIZE), module


def test_a_batch_size_the_deployment_set_is_kept():
    for module in LOCATIONS:
        assert _batch_size_after_loading(module, **{VARIABLE: "0"}) == "0", module
