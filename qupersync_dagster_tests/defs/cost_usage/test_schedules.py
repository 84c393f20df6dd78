"""The schedule asks for today and its lookback in one run, which syncs and summarises them all."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from qupersync_dagster_tests.defs.cost_usage.conftest import SOURCE_TABLE, TABLE
from qupersync_dagster_tests.tables import day_digest, scalar

pytestmark = pytest.mark.integration

SCHEDULE = f"{TABLE}_schedule"

SOURCE_BY_DAY = """
    SELECT json_object_agg(d, json_build_array(n, c)) FROM (
        SELECT CAST(line_item_usage_start_date AS date) AS d, COUNT(*) AS n,
               SUM(line_item_unblended_cost::numeric)::text AS c
        FROM billing.cur_line_items
        WHERE line_item_usage_start_date >= %s AND line_item_usage_start_date < %s GROUP BY 1
    ) AS s
"""

SUMMARY_BY_DAY = """
    SELECT json_object_agg(usage_date, json_build_array(n, c)) FROM (
        SELECT usage_date, SUM(line_count) AS n, SUM(unblended_cost)::text AS c
        FROM cost.cost_usage_summary WHERE usage_date >= %s AND usage_date < %s GROUP BY 1
    ) AS s
"""


def _request(defs, when: datetime) -> dg.RunRequest | dg.SkipReason:
    schedule = defs.resolve_schedule_def(SCHEDULE)
    data = schedule.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=when))
    if data.skip_message:
        return dg.SkipReason(data.skip_message)
    [request] = data.run_requests
    return request


def test_schedule_is_daily_in_utc_stopped_and_targets_the_sync_job(defs, spec):
    schedule = defs.resolve_schedule_def(SCHEDULE)
    assert schedule.cron_schedule == spec.cron
    assert schedule.execution_timezone == "UTC"
    assert schedule.default_status is dg.DefaultScheduleStatus.STOPPED
    assert schedule.job_name == f"{TABLE}_sync"
    job = defs.resolve_job_def(schedule.job_name)
    assert job.asset_layer.selected_asset_keys == {
        dg.AssetKey(TABLE),
        dg.AssetKey("cost_usage_summary"),
    }


def test_every_job_runs_its_steps_in_the_run_worker_process(defs):
    # The sync job, and the implicit asset job the UI's Materialize launches: no process per step.
    jobs = [defs.resolve_job_def(f"{TABLE}_sync"), defs.resolve_implicit_global_asset_job_def()]
    assert all(job.executor_def is dg.in_process_executor for job in jobs)


def test_a_tick_requests_one_run_from_lookback_to_its_day(defs, spec):
    when = datetime(2026, 12, 15, 6, 0, tzinfo=UTC)
    request = _request(defs, when)
    first = when.date() - timedelta(days=spec.schedule_lookback_days)
    assert request.tags["dagster/asset_partition_range_start"] == first.isoformat()
    assert request.tags["dagster/asset_partition_range_end"] == "2026-12-15"

    # A time given in another zone still means its UTC day: 01:30 in Tokyo is the day before.
    tokyo = datetime(2026, 12, 15, 1, 30, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert _request(defs, tokyo).tags["dagster/asset_partition_range_end"] == "2026-12-14"


def test_a_tick_near_the_start_date_starts_there_and_before_it_skips(defs, spec):
    request = _request(defs, datetime.combine(spec.start_date, time(6), UTC) + timedelta(days=1))
    assert request.tags["dagster/asset_partition_range_start"] == spec.start_date.isoformat()
    assert (
        request.tags["dagster/asset_partition_range_end"]
        == (spec.start_date + timedelta(days=1)).isoformat()
    )

    on_start = _request(defs, datetime.combine(spec.start_date, time(6), UTC))
    assert on_start.tags["dagster/partition"] == spec.start_date.isoformat()
    assert "dagster/asset_partition_range_start" not in on_start.tags

    before = _request(defs, datetime.combine(spec.start_date, time(6), UTC) - timedelta(days=1))
    assert isinstance(before, dg.SkipReason)


def test_the_scheduled_run_syncs_the_range_and_rebuilds_its_summary(
    defs, spec, today, recent_source, run_job, pg_server, source_db, target_db
):
    request = _request(defs, datetime.combine(today, time(6), UTC))
    result = run_job(f"{TABLE}_sync", request.tags)
    assert result.success

    first = today - timedelta(days=spec.schedule_lookback_days)
    expected = [(first + timedelta(days=i)).isoformat() for i in range(3)]
    for asset in (TABLE, "cost_usage_summary"):
        materialized = sorted(m.partition for m in result.asset_materializations_for_node(asset))
        assert materialized == expected
    for day in expected:
        assert day_digest(pg_server, target_db, "cost.cur_line_items", day) == (
            day_digest(pg_server, source_db, SOURCE_TABLE, day)
        )
    window = (first, today + timedelta(days=1))
    by_day = scalar(pg_server, source_db, SOURCE_BY_DAY, window)
    assert sorted(by_day) == expected
    assert scalar(pg_server, target_db, SUMMARY_BY_DAY, window) == by_day
    # Nothing outside the range was synced.
    assert scalar(pg_server, target_db, "SELECT COUNT(*) FROM cost.cur_line_items") == sum(
        n for n, _ in by_day.values()
    )

    checks = {(e.check_name, e.passed) for e in result.get_asset_check_evaluations()}
    assert checks == {
        ("schema_matches", True),
        ("reconciled_with_source", True),
        ("primary_key_unique_not_null", True),
        ("freshness", True),
        ("column_schema_change", True),
    }
