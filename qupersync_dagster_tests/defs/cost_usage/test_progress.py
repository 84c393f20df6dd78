"""A long run logs its finished days a few lines at a time, a short one each day; none is lost."""

from __future__ import annotations

from qupersync_dagster.defs.cost_usage.progress import INTERVAL_S, Progress
from qupersync_dagster.domain.entities import PartitionOutcome, SyncResult


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _day(n: int, outcome: PartitionOutcome = PartitionOutcome.SYNCED) -> SyncResult:
    rows = 100 if outcome is PartitionOutcome.SYNCED else 0
    return SyncResult("cur", f"2026-08-{n:02d}", outcome, rows_extracted=rows)


def test_a_one_day_run_logs_that_day_with_its_outcome_and_rows():
    lines: list[str] = []
    progress = Progress("cur", lines.append, Clock())

    progress(_day(1))
    progress.flush()

    assert lines == ["cur 2026-08-01: synced, 100 rows extracted"]


def test_days_finishing_within_the_interval_are_told_together_in_one_line():
    lines: list[str] = []
    clock = Clock()
    progress = Progress("cur", lines.append, clock)

    for n in range(1, 4):
        clock.now += INTERVAL_S / 4
        progress(_day(n, PartitionOutcome.UNCHANGED if n == 2 else PartitionOutcome.SYNCED))
    assert lines == []
    progress.flush()

    assert lines == ["cur 2026-08-01..2026-08-03: 2 synced, 1 unchanged, 200 rows extracted"]


def test_a_line_is_logged_as_soon_as_the_interval_has_passed_and_every_day_once():
    lines: list[str] = []
    clock = Clock()
    progress = Progress("cur", lines.append, clock)

    for n in range(1, 31):
        clock.now = n * INTERVAL_S * 0.4  # a line every third day
        progress(_day(n))
    progress.flush()
    progress.flush()

    assert lines[0] == "cur 2026-08-01..2026-08-03: 3 synced, 0 unchanged, 300 rows extracted"
    assert len(lines) == 10
    spans = [line.split(" ")[1].rstrip(":").split("..") for line in lines]
    assert [span[0] for span in spans][1:] == [f"2026-08-{n:02d}" for n in range(4, 31, 3)]


def test_days_finished_out_of_order_by_parallel_lanes_are_told_as_their_span():
    lines: list[str] = []
    progress = Progress("cur", lines.append, Clock())

    for n in (2, 3, 1):
        progress(_day(n, PartitionOutcome.SYNCED))
    progress.flush()

    assert lines == ["cur 2026-08-01..2026-08-03: 3 synced, 0 unchanged, 300 rows extracted"]
