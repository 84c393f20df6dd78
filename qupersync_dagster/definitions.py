"""The Dagster code location: every asset, check, schedule and sensor QuperSync defines.

Tables come from the YAML named by ``QUPERSYNC_CONFIG``; connections from ``REDSHIFT_*`` and
``POSTGRES_*`` environment variables, resolved by Dagster when a run starts.
"""

from __future__ import annotations

import os

import dagster as dg

from qupersync_dagster.defs.cost_usage.assets import build_cost_usage_asset
from qupersync_dagster.defs.cost_usage.checks import build_cost_usage_checks
from qupersync_dagster.defs.cost_usage.schedules import build_cost_usage_schedule, build_sync_job
from qupersync_dagster.defs.cost_usage.sensors import build_restatement_sensor
from qupersync_dagster.defs.cost_usage.summary import build_summary_asset
from qupersync_dagster.defs.resources import PostgresResource, RedshiftResource
from qupersync_dagster.infrastructure.table_list import TableList, load_table_list


def _int_env(name: str, default: int) -> int | dg.EnvVar:
    return dg.EnvVar.int(name) if os.environ.get(name) else default


def _bool_env(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")


def resources() -> dict:
    return {
        "redshift": RedshiftResource(
            host=dg.EnvVar("REDSHIFT_HOST"),
            port=_int_env("REDSHIFT_PORT", 5439),
            database=dg.EnvVar("REDSHIFT_DATABASE"),
            user=dg.EnvVar("REDSHIFT_USER"),
            password=dg.EnvVar("REDSHIFT_PASSWORD"),
            ssl=_bool_env("REDSHIFT_SSL", True),
            sslmode=os.environ.get("REDSHIFT_SSLMODE", "verify-ca"),
            fetch_size=_int_env("REDSHIFT_FETCH_SIZE", 2_000),
            statement_timeout_ms=_int_env("REDSHIFT_STATEMENT_TIMEOUT_MS", 0),
            timeout_s=_int_env("REDSHIFT_TIMEOUT_S", 300),
        ),
        "postgres": PostgresResource(
            host=dg.EnvVar("POSTGRES_HOST"),
            port=_int_env("POSTGRES_PORT", 5432),
            database=dg.EnvVar("POSTGRES_DATABASE"),
            user=dg.EnvVar("POSTGRES_USER"),
            password=dg.EnvVar("POSTGRES_PASSWORD"),
            sslmode=os.environ.get("POSTGRES_SSLMODE", "prefer"),
            statement_timeout_ms=_int_env("POSTGRES_STATEMENT_TIMEOUT_MS", 0),
            lock_timeout_ms=_int_env("POSTGRES_LOCK_TIMEOUT_MS", 0),
            timeout_s=_int_env("POSTGRES_TIMEOUT_S", 3600),
        ),
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
