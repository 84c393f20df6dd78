"""The Dagster code location: every asset, check, schedule and sensor QuperSync defines.

Tables come from the YAML named by ``QUPERSYNC_CONFIG``; connections from ``REDSHIFT_*`` and
``POSTGRES_*`` environment variables, resolved by Dagster when a run starts.
"""

from __future__ import annotations

import os

import dagster as dg

from qupersync_dagster.defs.cost_usage.assets import build_cost_usage_asset
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
            fetch_size=_int_env("REDSHIFT_FETCH_SIZE", 10_000),
            statement_timeout_ms=_int_env("REDSHIFT_STATEMENT_TIMEOUT_MS", 0),
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
        ),
    }


def build_definitions(table_list: TableList) -> dg.Definitions:
    assets = [build_cost_usage_asset(spec) for spec in table_list.tables]
    if table_list.summary is not None:
        line_items = table_list.table(table_list.summary.from_table)
        assets.append(build_summary_asset(table_list.summary, line_items))
    return dg.Definitions(assets=assets, resources=resources())


defs = build_definitions(load_table_list())
