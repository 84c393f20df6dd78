"""The code location of QuperSync as a ``dg`` project: everything its defs folder declares.

``dg dev``, ``dg check defs``, ``dg list defs`` and ``dg launch`` load this module (see
``[tool.dg]`` in pyproject.toml): the ``QuperSyncTablesComponent`` instances under
``qupersync_dagster/defs`` and the connections. ``qupersync_dagster.definitions`` stays the
location of deployments that name their tables with ``QUPERSYNC_CONFIG``; both build the same
definitions from the same table list.
"""

from pathlib import Path

import dagster as dg

from qupersync_dagster.defs.event_batching import batch_event_writes
from qupersync_dagster.defs.loaded_objects import freeze_loaded_objects

batch_event_writes()
defs = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
freeze_loaded_objects()
