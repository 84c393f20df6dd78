"""The ``redshift`` and ``postgres`` resources every table's assets, checks and sensor use.

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


@dg.definitions
def connections() -> dg.Definitions:
    return dg.Definitions(resources=resources())
