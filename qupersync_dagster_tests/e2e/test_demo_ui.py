"""A newcomer's first minute, in a real browser: start the demo, materialise one day from the UI.

Drives Debian's Chromium (never a browser a tool downloads) through Playwright. The run is judged by
Dagster's own GraphQL API and by the target table, compared with the source queried directly.
``QUPERSYNC_UPDATE_SCREENSHOT=1`` also refreshes ``docs/asset-graph.png`` for the README.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from qupersync_dagster.demo.graphql import FINISHED, graphql
from qupersync_dagster_tests.e2e.browser import demo_in_browser, keep_for_docs

pytestmark = pytest.mark.e2e

ASSET = "cur_line_items"
RUN_TIMEOUT_S = 300.0

_RUNS = """
query ($day: String!) {
  runsOrError(filter: {tags: [{key: "dagster/partition", value: $day}]}) {
    ... on Runs { results { runId status } }
  }
}
"""
_EVENTS = """
query ($runId: ID!) {
  logsForRun(runId: $runId) {
    ... on EventConnection { events {
      __typename
      ... on MaterializationEvent {
        assetKey { path } partition
        metadataEntries { label ... on IntMetadataEntry { intValue } }
      }
      ... on AssetCheckEvaluationEvent { evaluation { checkName success } }
    } }
  }
}
"""


def _finished_run(url: str, day: str) -> dict:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        runs = graphql(url, _RUNS, {"day": day})["runsOrError"]["results"]
        if runs and runs[0]["status"] in FINISHED:
            assert len(runs) == 1, runs
            return runs[0]
        time.sleep(2)
    raise AssertionError(f"no run for partition {day} finished within {RUN_TIMEOUT_S:.0f} s")


def test_one_partition_materialised_from_the_ui_lands_in_the_target(browser, tmp_path):
    with demo_in_browser(browser, tmp_path) as (demo, page):
        url = demo.url
        state = demo.state()
        # Yesterday: recent enough for the freshness check to pass too.
        day = demo.latest_day() - timedelta(days=1)

        page.goto(f"{url}/assets/{ASSET}")
        page.get_by_role("button", name="Materialize…").click()
        dialog = page.get_by_role("dialog")
        partitions = dialog.get_by_placeholder("No matching partitions")
        partitions.fill(day.isoformat())
        partitions.press("Enter")
        dialog.get_by_role("button", name="Launch 1 run").click()

        run = _finished_run(url, day.isoformat())
        page.goto(f"{url}/runs/{run['runId']}")
        page.get_by_text("Success", exact=True).first.wait_for()
        page.screenshot(path=tmp_path / "run.png")
        assert run["status"] == "SUCCESS"

        source_rows = demo.count_day(state.databases.source, "billing.cur_line_items", day)
        target_rows = demo.count_day(state.databases.target, "cost.cur_line_items", day)
        assert target_rows == source_rows > 0

        events = graphql(url, _EVENTS, {"runId": run["runId"]})["logsForRun"]["events"]
        [materialization] = [e for e in events if e["__typename"] == "MaterializationEvent"]
        assert materialization["assetKey"]["path"] == [ASSET]
        assert materialization["partition"] == day.isoformat()
        metadata = {m["label"]: m.get("intValue") for m in materialization["metadataEntries"]}
        assert metadata["rows_extracted"] == metadata["dagster/row_count"] == source_rows
        checks = {
            e["evaluation"]["checkName"]: e["evaluation"]["success"]
            for e in events
            if e["__typename"] == "AssetCheckEvaluationEvent"
        }
        assert checks and all(checks.values()), checks

        page.goto(f"{url}/asset-groups")
        page.get_by_text("cost_usage_summary").last.wait_for()
        page.wait_for_timeout(3000)  # the graph lays itself out and fetches its statuses
        graph = tmp_path / "asset-graph.png"
        page.screenshot(path=graph)
        keep_for_docs(graph)
