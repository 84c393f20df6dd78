"""A day over its cursor budget is cut into whole-hour slices that cover it exactly."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from qupersync_dagster.domain.entities import PartitionWindow
from qupersync_dagster.infrastructure.redshift.slices import plan_slices

DAY = date(2026, 10, 2)
WINDOW = PartitionWindow.day(DAY)
MIDNIGHT = datetime(2026, 10, 2)
NEXT_MIDNIGHT = MIDNIGHT + timedelta(days=1)


def _hour(n: int) -> datetime:
    return MIDNIGHT + timedelta(hours=n)


def test_slices_pack_consecutive_hours_within_the_budget_and_cover_the_whole_day():
    counts = [(_hour(h), 100) for h in range(24)]

    slices = plan_slices(WINDOW, counts, budget=700)

    assert slices == [
        (MIDNIGHT, _hour(7)),
        (_hour(7), _hour(14)),
        (_hour(14), _hour(21)),
        (_hour(21), NEXT_MIDNIGHT),
    ]


def test_an_hour_larger_than_the_budget_is_a_slice_of_its_own():
    counts = [(_hour(3), 10), (_hour(5), 5_000), (_hour(9), 10)]

    slices = plan_slices(WINDOW, counts, budget=100)

    assert slices == [(MIDNIGHT, _hour(5)), (_hour(5), _hour(9)), (_hour(9), NEXT_MIDNIGHT)]


def test_a_day_within_the_budget_or_without_rows_is_one_slice():
    assert plan_slices(WINDOW, [(_hour(1), 50), (_hour(2), 50)], 100) == [(MIDNIGHT, NEXT_MIDNIGHT)]
    assert plan_slices(WINDOW, [], 100) == [(MIDNIGHT, NEXT_MIDNIGHT)]


def test_hours_of_a_time_zone_aware_column_cut_at_their_utc_wall_time():
    counts = [(_hour(h).replace(tzinfo=UTC), 60) for h in range(4)]

    assert plan_slices(WINDOW, counts, budget=120) == [
        (MIDNIGHT, _hour(2)),
        (_hour(2), NEXT_MIDNIGHT),
    ]
