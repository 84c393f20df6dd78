"""Days read over several source connections at once, against in-memory repositories."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from qupersync_dagster.domain.entities import PartitionOutcome, WindowRead
from qupersync_dagster.domain.services.lanes import deal, run_lanes
from qupersync_dagster.domain.services.sync_service import SyncService
from qupersync_dagster_tests.domain.fakes import FakeSource, FakeSourceTable, FakeTarget, Row
from qupersync_dagster_tests.domain.test_sync_service import SCHEMA, SOURCE, START, _row, _spec
from qupersync_dagster_tests.domain.workers import PATIENCE_S

DAYS = 5
END = START + timedelta(days=DAYS)
ROWS = [_row(day, n) for day in range(DAYS) for n in range(4)]


def _key(day: int) -> str:
    return (START + timedelta(days=day)).isoformat()


def _source(cls: type[FakeSource] = FakeSource, **options) -> FakeSource:
    return cls({SOURCE: FakeSourceTable(SCHEMA, [dict(r) for r in ROWS])}, **options)


def _rows(rows: list[Row]) -> list[tuple]:
    return sorted(tuple(r[c] for c in SCHEMA.names) for r in rows)


def test_days_are_dealt_round_robin_to_no_more_lanes_than_days():
    assert deal([1, 2, 3, 4, 5], 2) == [[1, 3, 5], [2, 4]]
    assert deal([1, 2], 3) == [[1], [2]]
    assert deal([1, 2, 3], 1) == [[1, 2, 3]]
    assert deal([], 2) == []


def test_two_connections_each_read_every_other_day_and_every_day_lands_once():
    first, second = _source(), _source()
    target = FakeTarget()
    seen: list[str] = []

    results = SyncService(first, target, more_sources=[second]).sync(
        _spec(), START, END, on_result=lambda r: seen.append(r.partition)
    )

    assert [key for key, _ in first.streams] == [_key(0), _key(2), _key(4)]
    assert [key for key, _ in second.streams] == [_key(1), _key(3)]
    assert [r.partition for r in results] == [_key(d) for d in range(DAYS)]
    assert {r.outcome for r in results} == {PartitionOutcome.SYNCED}
    assert sorted(seen) == [_key(d) for d in range(DAYS)]  # each day reported once
    assert sorted(target.commits) == [_key(d) for d in range(DAYS)]
    assert _rows(target.rows(_spec())) == _rows(ROWS)


def test_unchanged_days_are_skipped_whichever_connection_would_have_read_them():
    first, second = _source(), _source()
    target = FakeTarget()
    service = SyncService(first, target, more_sources=[second])
    service.sync(_spec(), START, END)
    first.streams.clear()
    second.streams.clear()

    results = service.sync(_spec(), START, END)

    assert {r.outcome for r in results} == {PartitionOutcome.UNCHANGED}
    assert first.streams == second.streams == []


class _Gated(FakeSource):
    """A source whose first read says it ``started``, then waits until ``release`` is set."""

    started: threading.Event
    release: threading.Event

    def stream(self, read: WindowRead):
        if not self.streams:
            self.started.set()
            assert self.release.wait(PATIENCE_S), "the other lane never failed"
        yield from super().stream(read)


class _Failing(FakeSource):
    """A source whose reads wait until ``other`` has started, then fail and set ``failed``."""

    other: threading.Event
    failed: threading.Event

    def stream(self, read: WindowRead):
        assert self.other.wait(PATIENCE_S), "the other lane never started"
        try:
            yield from super().stream(read)
        finally:
            self.failed.set()


def test_a_failing_lane_stops_the_other_at_its_next_day_and_the_failure_is_raised():
    # The first lane has started day 0 when the second fails on day 1; it then finishes day 0.
    failing = _source(_Failing, failing_day=_key(1))
    gated = _source(_Gated)
    gated.started, gated.release = threading.Event(), threading.Event()
    failing.other, failing.failed = gated.started, gated.release
    target = FakeTarget()

    with pytest.raises(ConnectionError):
        SyncService(gated, target, more_sources=[failing]).sync(_spec(), START, END)

    assert target.commits == [_key(0)]  # the day in hand is finished, no later day is started
    assert [key for key, _ in failing.streams] == [_key(1)]
    assert {key for (_, key) in target.states} == {_key(0)}
    assert _rows(target.rows(_spec())) == _rows([r for r in ROWS if r["id"].startswith("d0-")])
    assert gated.open_streams == failing.open_streams == 0  # the read started ahead is closed


def test_the_first_failure_is_raised_with_the_other_lanes_failures_noted_on_it():
    def failing(message: str):
        def lane(stopped) -> None:
            raise RuntimeError(message)

        return lane

    with pytest.raises(RuntimeError) as raised:
        run_lanes([failing("first lane"), failing("second lane")])

    messages = {str(raised.value), *getattr(raised.value, "__notes__", [])}
    assert any("first lane" in m for m in messages)
    assert any("second lane" in m for m in messages)


def test_one_connection_reads_the_days_in_order_as_before():
    source = _source()
    SyncService(source, FakeTarget()).sync(_spec(), START, END)
    assert [key for key, _ in source.streams] == [_key(d) for d in range(DAYS)]


def test_a_lane_that_finishes_early_does_not_stop_the_others():
    done: list[str] = []

    def lane(name: str, delay: float):
        def work(stopped) -> None:
            threading.Event().wait(delay)
            assert not stopped()
            done.append(name)

        return work

    run_lanes([lane("quick", 0.0), lane("slow", 0.05)])
    assert sorted(done) == ["quick", "slow"]
