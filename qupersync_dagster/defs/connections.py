"""What a code location adds to its tables once: the connections and the executor.

Both code locations hold them once: ``qupersync_dagster.definitions`` adds them to its tables,
and a ``dg`` project's defs folder loads them from here beside its component instances.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from qupersync_dagster.defs.resources import PostgresResource, RedshiftResource


def resources() -> dict[str, Any]:
    """The connections, every setting read from its variable when a run starts."""
    return {
        "redshift": RedshiftResource.from_environment(),
        "postgres": PostgresResource.from_environment(),
    }


def location_definitions() -> dg.Definitions:
    """The code location's own part, beside any number of tables' definitions.

    The in-process executor is also that of the implicit asset job the UI's Materialize launches
    (see ``build_sync_job``).
    """
    return dg.Definitions(resources=resources(), executor=dg.in_process_executor)


@dg.definitions
def connections() -> dg.Definitions:
    return location_definitions()
