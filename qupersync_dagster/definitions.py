"""The Dagster code location: every asset, check, schedule and sensor QuperSync defines.

Tables come from the YAML named by ``QUPERSYNC_CONFIG``; connections from ``REDSHIFT_*`` and
``POSTGRES_*`` environment variables, resolved by Dagster when a run starts. A ``dg`` project
declares its tables in a component instance instead (``qupersync_dagster.dg_project``); both
build the same definitions.
"""

from __future__ import annotations

import dagster as dg

# Only plain functions: a module-level `@dg.definitions` object here would be a second
# candidate for the code location's definitions.
from qupersync_dagster.defs.connections import location_definitions, resources
from qupersync_dagster.defs.cost_usage.table_defs import build_table_definitions
from qupersync_dagster.defs.event_batching import batch_event_writes
from qupersync_dagster.defs.loaded_objects import freeze_loaded_objects
from qupersync_dagster.infrastructure.table_list import TableList, load_table_list

__all__ = ["build_definitions", "defs", "resources"]


def build_definitions(table_list: TableList) -> dg.Definitions:
    return dg.Definitions.merge(build_table_definitions(table_list), location_definitions())


batch_event_writes()
defs = build_definitions(load_table_list())
freeze_loaded_objects()
