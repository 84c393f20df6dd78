"""What a code location loads stays out of the garbage collector's way; what runs make does not."""

from __future__ import annotations

import subprocess
import sys

# Run in a process of its own: freezing is process-wide, and this one has loaded far more.
LOAD_THEN_REPORT = """
import gc, weakref
import {module}
frozen = gc.get_freeze_count()

class Node:
    pass

node = Node()
node.self = node  # a cycle only a collection frees
alive = weakref.ref(node)
del node
gc.collect()
print(frozen, alive() is None)
"""


def _load(module: str) -> tuple[int, bool]:
    completed = subprocess.run(
        [sys.executable, "-c", LOAD_THEN_REPORT.format(module=module)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    frozen, collected = completed.stdout.split()
    return int(frozen), collected == "True"


def test_both_code_locations_freeze_what_they_loaded_and_still_collect_later_garbage():
    for module in ("qupersync_dagster.definitions", "qupersync_dagster.dg_project"):
        frozen, collected = _load(module)
        assert frozen > 10_000, module
        assert collected, module
