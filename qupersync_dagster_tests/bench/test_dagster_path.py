"""The Dagster path's whole process, split phase by phase from its run's event log."""

from __future__ import annotations

import pytest
from dagster import DagsterEventType as Event

from bench.dagster_path import ASSET, _phases


def test_the_phases_add_up_to_the_whole_process_with_the_sync_taken_out_of_the_assets_step():
    began, seconds, sync = 100.0, 20.0, 9.0
    at = {
        (Event.RUN_START, None): 104.0,
        (Event.STEP_START, ASSET): 104.5,
        (Event.STEP_SUCCESS, ASSET): 115.0,
        (Event.STEP_START, "cur_line_items_freshness"): 115.5,
        (Event.STEP_SUCCESS, "cur_line_items_freshness"): 116.0,
        (Event.RUN_SUCCESS, None): 117.0,
    }

    phases = _phases(at, began, seconds, sync)

    assert phases == {
        "start-up (process start to RUN_START)": 4.0,
        "step cur_line_items_freshness": 0.5,
        "sync (the days' duration_s, summed)": 9.0,
        f"step {ASSET}, around the sync": 1.5,
        "run bookkeeping between steps": 2.0,
        "exit (RUN_SUCCESS to process end)": 3.0,
    }
    assert sum(phases.values()) == pytest.approx(seconds)
