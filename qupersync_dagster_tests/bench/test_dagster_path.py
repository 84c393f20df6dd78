"""The Dagster path's whole process, split phase by phase from its run's event log."""

from __future__ import annotations

import pytest
from dagster import DagsterEventType as Event

from bench.dagster_path import ASSET, SYNC, Totals, _phases

BEGAN, SECONDS = 100.0, 20.0
EVENTS = {
    (Event.ASSET_MATERIALIZATION_PLANNED, None): 103.0,
    (Event.RUN_START, None): 104.0,
    (Event.STEP_START, ASSET): 104.5,
    (Event.ASSET_CHECK_EVALUATION, ASSET): 105.0,
    (Event.ASSET_MATERIALIZATION, ASSET): 114.5,
    (Event.STEP_SUCCESS, ASSET): 115.0,
    (Event.STEP_START, "cur_line_items_freshness"): 115.5,
    (Event.STEP_SUCCESS, "cur_line_items_freshness"): 116.0,
    (Event.RUN_SUCCESS, None): 117.0,
}
# Logged at 114.25, 9.5 s after the asset's code opened its connections at 104.75.
TOTALS = Totals(logged=114.25, sync_s=9.0, duration_s=9.5)


def test_the_phases_add_up_to_the_whole_process_with_the_engines_span_as_the_sync():
    phases = _phases(EVENTS, BEGAN, SECONDS, TOTALS)

    assert phases == {
        "start-up: imports, definitions, until the run is recorded": 3.0,
        "start-up: run recorded to RUN_START": 1.0,
        "step cur_line_items_freshness": 0.5,
        "asset step: resources, until the asset's code opens its connections": 0.25,
        SYNC: 9.0,
        "asset step: check result stored; schema, previews, unchanged days' fingerprints read": 0.5,
        "asset step: the run's totals logged, the days' materialisations, to the step's end": (
            0.75
        ),
        "run bookkeeping between steps": 2.0,
        "exit (RUN_SUCCESS to process end)": 3.0,
    }
    assert sum(phases.values()) == pytest.approx(SECONDS)
