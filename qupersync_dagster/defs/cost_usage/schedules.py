"""The daily sync run of each table, and the job that schedule and restatement sensor share.

AWS keeps re-delivering the last few days of a CUR, so the schedule re-syncs a short lookback
with today rather than today alone; the engine skips the days whose source did not change, so the
lookback costs one fingerprint query, not a re-copy. All days go into ONE run (the asset has a
single-run backfill policy), with the daily summary rebuilt downstream in that same run.
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from qupersync_dagster.domain.entities import TableSpec

# Dagster's reserved run tags for one partition and for a single-run partition range (what the
# UI and `dagster asset materialize --partition-range` set); Dagster exports no name for them.
PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def partition_tags(first: date, last: date) -> dict[str, str]:
    """Run tags selecting the partitions ``first`` to ``last``, both included.

    A single day is tagged as one partition, so its check results are recorded against it.
    """
    if first == last:
        return {PARTITION_TAG: first.isoformat()}
    return {RANGE_START_TAG: first.isoformat(), RANGE_END_TAG: last.isoformat()}


def sync_job_name(spec: TableSpec) -> str:
    return f"{spec.name}_sync"


def build_sync_job(spec: TableSpec, downstream: Sequence[str] = ()):
    """The table's asset, its checks, and ``downstream`` assets (the daily summary) as one job.

    Schedule and sensor name it; the code location's ``Definitions`` holds it once.
    """
    return dg.define_asset_job(
        name=sync_job_name(spec),
        selection=dg.AssetSelection.assets(spec.name, *downstream),
        description=f"Sync a range of {spec.name} partitions, check them, rebuild what follows.",
        # One process for the asset, its checks and the summary: a step subprocess each would
        # cost seconds of imports for work that takes milliseconds.
        executor_def=dg.in_process_executor,
    )


def build_cost_usage_schedule(spec: TableSpec) -> dg.ScheduleDefinition:
    """Sync today's partition and the ``schedule_lookback_days`` before it, on ``spec.cron`` (UTC).

    Stopped by default: an operator turns it on once connections are configured.
    """

    @dg.schedule(
        name=f"{spec.name}_schedule",
        cron_schedule=spec.cron,
        execution_timezone="UTC",
        job_name=sync_job_name(spec),
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=(
            f"Sync today's {spec.name} partition and the {spec.schedule_lookback_days} day(s) "
            "before it, in one run."
        ),
    )
    def _schedule(context: dg.ScheduleEvaluationContext):
        moment = context.scheduled_execution_time or datetime.now(UTC)
        today = moment.astimezone(UTC).date()
        if today < spec.start_date:
            return dg.SkipReason(f"{spec.name} starts on {spec.start_date}")
        first = max(spec.start_date, today - timedelta(days=spec.schedule_lookback_days))
        return dg.RunRequest(tags=partition_tags(first, today))

    return _schedule
