"""Everything one table list defines, without the connections: what a component instance adds.

The code location (``qupersync_dagster.definitions``) and the ``QuperSyncTablesComponent`` both
build their assets, checks, jobs, schedules and sensors here, so the two cannot drift apart. Jobs
are listed explicitly: schedules and sensors only name theirs.
"""

from __future__ import annotations

import dagster as dg

from qupersync_dagster.defs.cost_usage.assets import build_cost_usage_asset
from qupersync_dagster.defs.cost_usage.checks import build_cost_usage_checks
from qupersync_dagster.defs.cost_usage.lineage import source_specs
from qupersync_dagster.defs.cost_usage.schedules import build_cost_usage_schedule, build_sync_job
from qupersync_dagster.defs.cost_usage.sensors import build_restatement_sensor
from qupersync_dagster.defs.cost_usage.summary import build_summary_asset
from qupersync_dagster.infrastructure.table_list import TableList


def build_table_definitions(table_list: TableList) -> dg.Definitions:
    assets: list[dg.AssetSpec | dg.AssetsDefinition] = list(source_specs(table_list.tables))
    assets += [build_cost_usage_asset(spec) for spec in table_list.tables]
    summary = table_list.summary
    if summary is not None:
        assets.append(build_summary_asset(summary, table_list.table(summary.from_table)))
    checks, jobs, schedules, sensors = [], [], [], []
    for spec in table_list.tables:
        checks += build_cost_usage_checks(spec)
        # The summary is rebuilt in the run that re-syncs its line items.
        downstream = [summary.name] if summary and summary.from_table == spec.name else []
        jobs.append(build_sync_job(spec, downstream))
        schedules.append(build_cost_usage_schedule(spec))
        sensors.append(build_restatement_sensor(spec))
    return dg.Definitions(
        assets=assets, asset_checks=checks, jobs=jobs, schedules=schedules, sensors=sensors
    )
