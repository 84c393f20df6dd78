"""What a run's sync step has already read, for the checks of the same run.

The asset's step reads the source's fingerprints of its range (to decide which days to sync) and
has the target's after the sync (for each day's metadata): each rewritten day's as its own
transaction committed it, the other days' read back. ``reconciled_with_source`` compares
exactly those two. Run right after the step in the same process (the code location's in-process
executor), it takes them from here instead of describing and scanning both tables again, so a
run asks each side for its fingerprints once. The source side is then the source as the sync
read it when the run began, the state the sync mirrored. ``primary_key_unique_not_null`` takes
the target's row counts from here too when the table's own primary key is the key (nothing else
to prove). A check run on its own (another run, another process) finds nothing here and reads
the tables itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from qupersync_dagster.domain.entities import PartitionWindow, SourceFingerprint, SyncResult

_KEPT = 16  # the latest syncs' entries; older ones are dropped


@dataclass(frozen=True)
class SyncedFingerprints:
    source: dict[date, SourceFingerprint]  # days with rows at the source, as the sync read them
    target: dict[date, SourceFingerprint]  # days with rows in the target after the sync


_runs: dict[tuple[str, str, PartitionWindow], SyncedFingerprints] = {}


def keep(
    run_id: str,
    table: str,
    window: PartitionWindow,
    results: list[SyncResult],
    target: dict[date, SourceFingerprint],
) -> None:
    """Record a finished sync of ``window``: its days' source fingerprints and the target's."""
    source = {
        date.fromisoformat(r.partition): r.fingerprint
        for r in results
        if r.fingerprint is not None and r.fingerprint.row_count > 0
    }
    _runs[(run_id, table, window)] = SyncedFingerprints(source, target)
    while len(_runs) > _KEPT:
        del _runs[next(iter(_runs))]


def take(run_id: str, table: str, window: PartitionWindow) -> SyncedFingerprints | None:
    """What this run's sync of ``window`` read; None when no such sync ran here.

    Each check of the run takes it in turn, so it stays until ``_KEPT`` later syncs push it out.
    """
    return _runs.get((run_id, table, window))
