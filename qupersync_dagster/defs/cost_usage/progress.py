"""The run's log of finished days: each day of a short run, a line every few seconds of a long one.

Every log line is an event Dagster writes to its storage, between two days of the sync: a 30-day
backfill that logged each day wrote 30 of them. Days that finish within ``INTERVAL_S`` of the last
line are told together in the next one, and what is left when the sync ends in a last one.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from qupersync_dagster.domain.entities import PartitionOutcome, SyncResult

INTERVAL_S = 5.0


def progress_line(table: str, results: list[SyncResult]) -> str:
    """One day as its outcome and rows; several as their span, outcomes and rows together."""
    if len(results) == 1:
        day = results[0]
        return f"{table} {day.partition}: {day.outcome.value}, {day.rows_extracted} rows extracted"
    synced = sum(r.outcome is PartitionOutcome.SYNCED for r in results)
    rows = sum(r.rows_extracted for r in results)
    days = sorted(r.partition for r in results)  # lanes finish days out of order
    return (
        f"{table} {days[0]}..{days[-1]}: {synced} synced, "
        f"{len(results) - synced} unchanged, {rows} rows extracted"
    )


class Progress:
    """Receives each finished day (``on_result``); ``flush`` logs what is not logged yet."""

    def __init__(
        self,
        table: str,
        log: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
    ):
        self._table = table
        self._log = log
        self._clock = clock
        self._pending: list[SyncResult] = []
        self._last_line = clock()

    def __call__(self, result: SyncResult) -> None:
        self._pending.append(result)
        if self._clock() - self._last_line >= INTERVAL_S:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self._log(progress_line(self._table, self._pending))
            self._pending = []
            self._last_line = self._clock()
