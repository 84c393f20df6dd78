"""The Dagster code location: every asset, check, schedule and sensor QuperSync defines.

Tables come from the YAML named by ``QUPERSYNC_CONFIG``; connections from ``REDSHIFT_*`` and
``POSTGRES_*`` environment variables, resolved by Dagster when a run starts.
"""

from __future__ import annotations

import dagster as dg

from qupersync_dagster.defs.cost_usage.assets import build_cost_usage_asset
from qupersync_dagster.defs.cost_usage.checks import build_cost_usage_checks
from qupersync_dagster.defs.cost_usage.schedules import build_cost_usage_schedule, build_sync_job
from qupersync_dagster.defs.cost_usage.sensors import build_restatement_sensor
from qupersync_dagster.defs.cost_usage.summary import build_summary_asset
from qupersync_dagster.defs.resources import PostgresResource, RedshiftResource
from qupersync_dagster.infrastructure.table_list import TableList, load_table_list


def resources() -> dict:
    """The connections, every setting read from its variable when a run starts."""
    return {
        "redshift": RedshiftResource.from_environment(),
        "postgres": PostgresResource.from_environment(),
    }


def build_definitions(table_list: TableList) -> dg.Definitions:
    assets = [build_cost_usage_asset(spec) for spec in table_list.tables]
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
        assets=assets,
        asset_checks=checks,
        jobs=jobs,
        schedules=schedules,
        sensors=sensors,
        resources=resources(),
        # Also for the implicit asset job the UI's Materialize launches (see build_sync_job).
        executor=dg.in_process_executor,
    )


defs = build_definitions(load_table_list())
