"""Time slices of a day too large for one cursor.

Redshift materialises a cursor's whole result on the leader node at its first FETCH and caps
that result per cluster type; the first FETCH of a very large day can also outlast the statement
timeout. A day with more rows than the table's ``cursor_budget_rows`` is therefore read as
consecutive slices of whole hours of the partition column, each within the budget where the data
allows (an hour larger than the budget is a slice of its own), by successive cursors.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time

from qupersync_dagster.domain.entities import PartitionWindow


def plan_slices(
    window: PartitionWindow, hour_counts: Iterable[tuple[datetime, int]], budget: int
) -> list[tuple[datetime, datetime]]:
    """Half-open ``[start, end)`` slices covering the whole window, in order."""
    start = datetime.combine(window.start, time.min)
    end = datetime.combine(window.end, time.min)
    cuts = [start]
    rows = 0
    for hour, count in sorted(hour_counts):
        hour = hour.replace(tzinfo=None)
        if rows and rows + count > budget and hour > cuts[-1]:
            cuts.append(hour)
            rows = 0
        rows += count
    cuts.append(end)
    return list(zip(cuts, cuts[1:], strict=False))
