"""A backfill launched as the UI launches it records, on each day, that day's own counts.

The demo runs as a user starts it; the backfill goes through the webserver's GraphQL API with the
UI's own request, the daemon makes it one run (the assets' single-run policy), and each day's
materialisation is read back through GraphQL, as the UI shows it, and compared with the source,
counted day by day in its database.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from qupersync_dagster.defs.cost_usage.partition_metadata import PARTITION_ROW_COUNT, ROW_COUNT
from qupersync_dagster.demo.data import DEMO_TABLE, demo_table, restate
from qupersync_dagster.demo.graphql import (
    finished_run,
    launch_backfill,
    materializations,
    submitted_runs,
)
from qupersync_dagster_tests.demo.launcher import running_demo

pytestmark = pytest.mark.integration

DAYS = 5
ROWS_PER_DAY = 40
# The daemon looks at new backfills every 30 s; a slow machine takes longer to start the run.
RUN_TIMEOUT_S = 240.0
RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")


def test_a_backfill_from_the_ui_records_each_days_own_counts(tmp_path):
    log = tmp_path / "demo-output.log"
    options = ("--rows-per-day", str(ROWS_PER_DAY), "--ui-port", "0")
    with running_demo(tmp_path / "home", log, *options) as demo:
        url = demo.wait_until_ready()
        state = demo.state()
        source, target = state.databases.source, state.databases.target
        last = demo.latest_day() - timedelta(days=1)
        days = [last - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
        # The demo generates as many rows every day; day i is re-delivered i times, and each
        # re-delivery leaves one row more, so a total copied onto every day cannot pass.
        for times, day in enumerate(days):
            for _ in range(times):
                restate(state.postgres, demo_table(), source, day)
        rows = {day: demo.count_day(source, "billing.cur_line_items", day) for day in days}
        assert len(set(rows.values())) > 1, rows
        partitions = [day.isoformat() for day in days]

        backfill = launch_backfill(url, [DEMO_TABLE], partitions)
        [run_id] = submitted_runs(url, backfill, RUN_TIMEOUT_S)
        run = finished_run(url, run_id, RUN_TIMEOUT_S)
        assert run["status"] == "SUCCESS", f"run {run_id}; the demo's output is in {log}"
        assert tuple(run["tags"][tag] for tag in RANGE_TAGS) == (partitions[0], partitions[-1])

        found = materializations(url, DEMO_TABLE, partitions)
        assert sorted(m.partition for m in found) == partitions  # one each
        recorded = {m.partition: m for m in found}
        total = sum(rows.values())
        for day, day_rows in rows.items():
            materialization = recorded[day.isoformat()]
            metadata = materialization.metadata
            assert materialization.run_id == run_id
            assert metadata[ROW_COUNT] == metadata[PARTITION_ROW_COUNT] == day_rows != total
            assert metadata["outcome"] == "synced"
            assert metadata["rows_extracted"] == metadata["rows_inserted"] == day_rows
            assert metadata["rows_updated"] == metadata["rows_deleted"] == 0
            assert demo.count_day(target, "cost.cur_line_items", day) == day_rows
