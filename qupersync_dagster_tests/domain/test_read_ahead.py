"""The next day's read starts while the target still works on the current day, never out of turn.

A read started ahead holds a source cursor and rows in memory, so what matters is that it starts
only once the source is free, that at most one runs ahead, that a partition only ever takes the
read it asked for, and that every read nobody takes is closed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta

from qupersync_dagster.domain.entities import (
    Column,
    ColumnType,
    ExtractChoice,
    Extraction,
    ExtractMethod,
    PartitionWindow,
    RowBatch,
    TableRef,
    TableSchema,
    TableSpec,
    TypeKind,
    WindowRead,
)
from qupersync_dagster.domain.repositories import Extract
from qupersync_dagster.domain.services.read_ahead import ReadAhead
from qupersync_dagster_tests.domain.workers import wait_until, workers_alive

START = date(2026, 3, 1)
SCHEMA = TableSchema((Column("id", ColumnType(TypeKind.INTEGER)),))
SPEC = TableSpec(
    name="usage",
    source=TableRef("billing", "usage"),
    target=TableRef("cost", "usage"),
    partition_column="usage_start",
    start_date=START,
)


def _read(day: int, since: str | None = None) -> WindowRead:
    window = PartitionWindow.day(START + timedelta(days=day))
    return WindowRead(SPEC, SCHEMA, window, since, expected_rows=2)


def _unload(day: int) -> WindowRead:
    return replace(_read(day), choice=ExtractChoice(ExtractMethod.UNLOAD, "extract: unload"))


class Source:
    """Two batches per read, tagged with the read's day; records opening, draining, closing."""

    def __init__(self) -> None:
        self.opened: list[WindowRead] = []
        self.drained: list[WindowRead] = []
        self.closed: list[WindowRead] = []
        self.discarded: list[WindowRead] = []

    def extract(self, read: WindowRead) -> Extract:
        made = Extraction(read.choice.method, read.choice.reason)
        return Extract(self.stream(read), made, discard=lambda: self.discarded.append(read))

    def stream(self, read: WindowRead) -> Iterator[RowBatch]:
        self.opened.append(read)  # when the read is started, not when its worker first runs
        return self._batches(read)

    def _batches(self, read: WindowRead) -> Iterator[RowBatch]:
        try:
            for n in range(2):
                yield RowBatch(f"{read.window.key} {n}\n".encode(), 1)
            self.drained.append(read)
        finally:
            self.closed.append(read)


def _keys(batches) -> list[str]:
    return [batch.data.decode().split()[0] for batch in batches]


def test_the_next_planned_read_starts_once_the_current_one_has_left_the_source():
    source = Source()
    reads = ReadAhead(source.extract, 4, [_read(0), _read(1)])

    assert _keys(reads.open(_read(0))) == ["2026-03-01", "2026-03-01"]
    wait_until(lambda: _read(1) in source.drained)

    assert source.opened == [_read(0), _read(1)]
    assert _keys(reads.open(_read(1))) == ["2026-03-02", "2026-03-02"]
    assert source.opened == [_read(0), _read(1)]  # taken, not read again
    reads.close()
    assert workers_alive() == 0


def test_a_partition_that_decides_on_another_read_gets_it_and_the_read_ahead_is_closed():
    source = Source()
    reads = ReadAhead(source.extract, 4, [_read(0), _read(1)])
    list(reads.open(_read(0)))
    wait_until(lambda: _read(1) in source.opened)

    incremental = _read(1, since="2026-03-10 00:00:00")
    assert _keys(reads.open(incremental)) == ["2026-03-02", "2026-03-02"]

    assert source.opened == [_read(0), _read(1), incremental]
    assert _read(1) in source.closed
    assert source.discarded == [_read(1)]  # what the untaken read staged is dropped
    reads.close()
    assert workers_alive() == 0


def test_an_incremental_read_starts_nothing_ahead_as_the_whole_day_may_follow_it():
    source = Source()
    incremental = _read(0, since="2026-03-10 00:00:00")
    reads = ReadAhead(source.extract, 4, [incremental, _read(1)])

    list(reads.open(incremental))  # consumed to the end: its worker has finished

    assert source.opened == [incremental]
    list(reads.open(replace(incremental, changed_since=None)))  # the whole day, last read
    wait_until(lambda: _read(1) in source.opened)
    reads.close()


def test_at_most_one_read_runs_ahead_of_the_partition_being_written():
    source = Source()
    reads = ReadAhead(source.extract, 4, [_read(0), _read(1), _read(2)])
    list(reads.open(_read(0)))
    wait_until(lambda: _read(1) in source.drained and workers_alive() == 0)

    assert source.opened == [_read(0), _read(1)]  # day 1 has left the source; day 2 waits
    stream = reads.open(_read(1))
    assert source.opened == [_read(0), _read(1), _read(2)]  # started as day 1 was taken
    assert _keys(stream) == ["2026-03-02", "2026-03-02"]
    reads.close()
    assert workers_alive() == 0


def test_closing_releases_the_read_started_ahead_and_its_worker():
    source = Source()
    reads = ReadAhead(source.extract, 1, [_read(0), _read(1)])
    list(reads.open(_read(0)))
    wait_until(lambda: _read(1) in source.opened)

    reads.close()

    assert _read(1) in source.closed
    assert workers_alive() == 0


def test_ending_the_run_closes_a_read_never_consumed_and_starts_no_read_after_it():
    source = Source()
    reads = ReadAhead(source.extract, 4, [_read(0), _read(1)])
    reads.open(_read(0))  # the target failed before it took a batch

    reads.close()

    assert _read(0) in source.closed
    assert workers_alive() == 0
    assert source.opened == [_read(0)]


def test_dropping_the_read_ahead_closes_it_and_later_reads_still_start_ahead():
    source = Source()
    reads = ReadAhead(source.extract, 4, [_read(0), _read(1), _read(2)])
    list(reads.open(_read(0)))
    wait_until(lambda: _read(1) in source.opened)

    reads.drop_ahead()  # day 1 turned out synced by another run
    assert _read(1) in source.closed
    list(reads.open(_read(2)))  # read afresh, being no read ahead

    assert source.opened == [_read(0), _read(1), _read(2)]
    reads.close()
    assert workers_alive() == 0


def test_an_unload_is_never_started_ahead_but_when_its_partition_opens_it():
    source = Source()
    reads = ReadAhead(source.extract, 4, [_read(0), _unload(1)])

    assert _keys(reads.open(_read(0))) == ["2026-03-01", "2026-03-01"]
    wait_until(lambda: _read(0) in source.closed)
    assert source.opened == [_read(0)]

    assert _keys(reads.open(_unload(1))) == ["2026-03-02", "2026-03-02"]
    assert source.opened == [_read(0), _unload(1)]
    reads.close()
    assert workers_alive() == 0
