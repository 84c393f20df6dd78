"""The Dagster path's whole process, split phase by phase from its run's event log."""

from __future__ import annotations

import pytest
from dagster import DagsterEventType as Event

from bench.dagster_path import ASSET, _phases

BEGAN, SECONDS, SYNC = 100.0, 20.0, 9.0
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


def test_the_phases_add_up_to_the_whole_process_with_the_sync_taken_out_of_the_assets_step():
    phases = _phases(EVENTS, BEGAN, SECONDS, SYNC)

    assert phases == {
        "start-up: imports, definitions, until the run is recorded": 3.0,
        "start-up: run recorded to RUN_START": 1.0,
        "step cur_line_items_freshness": 0.5,
        "asset step: connections and pre-flight (to the schema check's result)": 0.5,
        "sync (the days' duration_s, summed)": 9.0,
        "asset step: rest of the sync call, then fingerprints, schema, previews read back": 0.5,
        "asset step: the days' materialisations, to the step's end": 0.5,
        "run bookkeeping between steps": 2.0,
        "exit (RUN_SUCCESS to process end)": 3.0,
    }
    assert sum(phases.values()) == pytest.approx(SECONDS)


def test_an_asset_step_without_a_check_result_is_split_into_the_sync_and_the_rest():
    events = {k: v for k, v in EVENTS.items() if k[0] is not Event.ASSET_CHECK_EVALUATION}

    phases = _phases(events, BEGAN, SECONDS, SYNC)

    assert phases["asset step, around the sync"] == pytest.approx(1.5)
    assert sum(phases.values()) == pytest.approx(SECONDS)
