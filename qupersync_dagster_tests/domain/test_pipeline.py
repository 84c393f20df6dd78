"""The extract/load overlap must never reorder, lose or hold on to rows.

The worker thread reads a source cursor, so besides ordering and error hand-off the properties
that matter are that memory stays bounded and that the cursor is released however the consumer
stops.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from qupersync_dagster.domain.services.pipeline import prefetch
from qupersync_dagster_tests.domain.workers import WORKER, wait_until, workers_alive


class Source:
    """A generator-backed source that records how far it was read and whether it was closed."""

    def __init__(self, items: int, fail_at: int | None = None):
        self.items = items
        self.fail_at = fail_at
        self.produced = 0
        self.closed = False
        self.closed_on_thread: str | None = None

    def __iter__(self) -> Iterator[int]:
        try:
            for i in range(self.items):
                if i == self.fail_at:
                    raise ValueError(f"source failed at item {i}")
                self.produced += 1
                yield i
        finally:
            self.closed = True
            self.closed_on_thread = threading.current_thread().name


def test_items_arrive_complete_and_in_order():
    assert list(prefetch(iter(Source(500)), depth=3)) == list(range(500))


def test_an_empty_source_ends_the_stream():
    assert list(prefetch(iter(Source(0)))) == []


def test_a_source_error_is_raised_in_the_consumer_after_the_items_before_it():
    source = Source(10, fail_at=4)
    received = []
    with pytest.raises(ValueError, match="source failed at item 4"):
        for item in prefetch(iter(source), depth=2):
            received.append(item)
    assert received == [0, 1, 2, 3]
    assert source.closed
    assert workers_alive() == 0


def test_closing_early_stops_the_worker_and_closes_the_source_on_its_thread():
    source = Source(1_000)
    stream = prefetch(iter(source), depth=2)
    assert next(stream) == 0
    wait_until(lambda: source.produced >= 4)

    stream.close()

    assert source.closed
    assert source.closed_on_thread == WORKER
    assert source.produced < 1_000
    assert workers_alive() == 0


def test_a_consumer_failure_releases_the_source():
    source = Source(1_000)
    with pytest.raises(RuntimeError):
        for item in prefetch(iter(source), depth=2):
            if item == 3:
                raise RuntimeError("the target refused a batch")
    assert source.closed
    assert workers_alive() == 0


@pytest.mark.parametrize("depth", [1, 4])
def test_the_worker_reads_at_most_depth_items_ahead_of_the_consumer(depth):
    source = Source(40)
    consumed = 0
    for _ in prefetch(iter(source), depth=depth):
        consumed += 1
        # While the consumer holds still, the worker fills the buffer and then one item in hand.
        expected = min(source.items, consumed + depth + 1)
        wait_until(lambda expected=expected: source.produced >= expected)
        assert source.produced == expected
    assert consumed == source.items
