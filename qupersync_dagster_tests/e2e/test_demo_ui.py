"""A newcomer's first minute, in a real browser: start the demo, materialise one day from the UI.

Drives Debian's Chromium (never a browser a tool downloads) through Playwright. The run is judged by
Dagster's own GraphQL API and by the target table, compared with the source queried directly.
``QUPERSYNC_UPDATE_SCREENSHOT=1`` also refreshes ``docs/asset-graph.png`` for the README.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path

import pytest

import qupersync_dagster
from qupersync_dagster_tests.demo.launcher import running_demo

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
UPDATE_SCREENSHOT_ENV = "QUPERSYNC_UPDATE_SCREENSHOT"
DOCS_SCREENSHOT = Path(qupersync_dagster.__file__).parents[1] / "docs" / "asset-graph.png"
MAX_SCREENSHOT_BYTES = 300_000
ROWS_PER_DAY = 40
ASSET = "cur_line_items"
UI_TIMEOUT_MS = 60_000
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
_DAY_COUNT = """
SELECT count(*) FROM {table}
WHERE line_item_usage_start_date >= %s AND line_item_usage_start_date < %s::date + 1
"""


def _graphql(url: str, query: str, **variables: str) -> dict:
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        document = json.load(response)
    assert not document.get("errors"), document["errors"]
    return document["data"]


def _finished_run(url: str, day: str) -> dict:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        runs = _graphql(url, _RUNS, day=day)["runsOrError"]["results"]
        if runs and runs[0]["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
            assert len(runs) == 1, runs
            return runs[0]
        time.sleep(2)
    raise AssertionError(f"no run for partition {day} finished within {RUN_TIMEOUT_S:.0f} s")


def _count(state, database: str, table: str, day: date) -> int:
    connection = state.postgres.connect(database)
    with contextlib.closing(connection), connection.cursor() as cursor:
        cursor.execute(_DAY_COUNT.format(table=table), (day, day))
        return cursor.fetchone()[0]


def _latest_day(state) -> date:
    connection = state.postgres.connect(state.databases.source)
    with contextlib.closing(connection), connection.cursor() as cursor:
        cursor.execute("SELECT max(line_item_usage_start_date)::date FROM billing.cur_line_items")
        return cursor.fetchone()[0]


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium chromium-driver")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


def test_one_partition_materialised_from_the_ui_lands_in_the_target(browser, tmp_path):
    log = tmp_path / "demo-output.log"
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.set_default_timeout(UI_TIMEOUT_MS)
    options = ("--rows-per-day", str(ROWS_PER_DAY), "--ui-port", "0")
    with running_demo(tmp_path / "home", log, *options) as demo:
        try:
            url = demo.wait_until_ready()
            state = demo.state()
            # Yesterday: recent enough for the freshness check to pass too.
            day = _latest_day(state) - timedelta(days=1)

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

            source_rows = _count(state, state.databases.source, "billing.cur_line_items", day)
            target_rows = _count(state, state.databases.target, "cost.cur_line_items", day)
            assert target_rows == source_rows > 0

            events = _graphql(url, _EVENTS, runId=run["runId"])["logsForRun"]["events"]
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
            assert 0 < graph.stat().st_size < MAX_SCREENSHOT_BYTES
            if os.environ.get(UPDATE_SCREENSHOT_ENV) == "1":
                DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
                shutil.copyfile(graph, DOCS_SCREENSHOT)
        except BaseException:
            with contextlib.suppress(Exception):
                page.screenshot(path=tmp_path / "failure.png")
            print(f"demo output: {log}; screenshots: {tmp_path}")
            raise
