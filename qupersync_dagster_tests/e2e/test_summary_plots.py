"""The summary's plots chart each day's cost, in a real browser, after a backfill from the UI.

The previous month and the current one up to yesterday are backfilled with the UI's own request
(the line items and the summary, one run); each summary day's cost is read back through GraphQL,
compared with the source summed directly, and the asset's Metadata section is opened as Plots by
partition. ``QUPERSYNC_UPDATE_SCREENSHOT=1`` also refreshes ``docs/summary-plots.png`` for the
README.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from qupersync_dagster.demo.data import DEMO_TABLE
from qupersync_dagster.demo.graphql import (
    finished_run,
    launch_backfill,
    materializations,
    submitted_runs,
)
from qupersync_dagster_tests.e2e.browser import demo_in_browser, keep_for_docs

pytestmark = pytest.mark.e2e

SUMMARY = "cost_usage_summary"
RUN_TIMEOUT_S = 300.0
COSTS = {
    "unblended_cost": "line_item_unblended_cost",
    "net_unblended_cost": "line_item_net_unblended_cost",
}
PLOTTED = ["dagster/partition_row_count", "dagster/row_count", "line_count", *COSTS]
# Exact sums, as the summary documents them: each float cast to numeric, then added.
_DAY_COSTS = (
    "SELECT CAST(line_item_usage_start_date AS date)::text, "
    + ", ".join(f"CAST(SUM(CAST({column} AS numeric)) AS text)" for column in COSTS.values())
    + " FROM billing.cur_line_items WHERE line_item_usage_start_date >= %s"
    " AND line_item_usage_start_date < %s GROUP BY 1"
)


def test_the_summary_plots_chart_each_days_cost(browser, tmp_path):
    # Wide and tall enough for the five charts, two to a row.
    with demo_in_browser(browser, tmp_path, width=1600, height=1400) as (demo, page):
        url = demo.url
        last = demo.latest_day() - timedelta(days=1)
        first = (last.replace(day=1) - timedelta(days=1)).replace(day=1)
        days = [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]

        backfill = launch_backfill(url, [DEMO_TABLE, SUMMARY], days)
        [run_id] = submitted_runs(url, backfill, RUN_TIMEOUT_S)
        assert finished_run(url, run_id, RUN_TIMEOUT_S)["status"] == "SUCCESS"

        rows = demo.query(demo.state().databases.source, _DAY_COSTS, (first, last + timedelta(1)))
        source = {day: dict(zip(COSTS, map(Decimal, costs), strict=True)) for day, *costs in rows}
        found = materializations(url, SUMMARY, days)
        assert sorted(m.partition for m in found) == days  # one each
        for materialization in found:
            day_costs = source[materialization.partition]
            for label, cost in day_costs.items():
                # A float entry, which the Plots view charts, of the day's exact cost.
                assert materialization.kinds[label] == "FloatMetadataEntry"
                assert materialization.metadata[label] == float(cost)

        page.goto(f"{url}/assets/{SUMMARY}")
        page.get_by_role("button", name="Plots").click()
        page.get_by_role("button", name="Partitions").click()
        for label in PLOTTED:
            page.get_by_text(label, exact=True).wait_for()
        page.wait_for_timeout(2000)  # the charts draw themselves
        assert page.locator("canvas").count() == len(PLOTTED)

        # The Metadata section: its heading, the toggles, the charts and their note.
        top = page.get_by_text("Metadata", exact=True).bounding_box()
        left = page.get_by_role("button", name="Partitions").bounding_box()
        right = page.get_by_role("button", name="Plots").bounding_box()
        bottom = page.get_by_text("When graphing values by partition").bounding_box()
        assert top and left and right and bottom
        x, y = left["x"] - 12, top["y"] - 12
        clip = {
            "x": x,
            "y": y,
            "width": right["x"] + right["width"] + 12 - x,
            "height": bottom["y"] + bottom["height"] + 12 - y,
        }
        plots = tmp_path / "summary-plots.png"
        page.screenshot(path=plots, clip=clip)
        keep_for_docs(plots)
