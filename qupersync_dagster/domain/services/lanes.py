"""A run's days spread over several source connections; each day is still its own transaction.

One connection reads one day at a time, and every FETCH is a round trip: the cluster waits while
the client takes a batch in and asks for the next, the client waits while the cluster renders,
and with a distant cluster both wait for the network. A second connection reading another day
fills those gaps. Days are dealt round robin, so a lane knows the days it will read and starts
its next one ahead (``read_ahead``). A failure stops every lane at its next day boundary: days
already committed stay committed, as when a one-connection run fails at a later day.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

# A lane's work: it syncs its days in order and asks ``stopped()`` before starting each one.
Lane = Callable[[Callable[[], bool]], None]

THREAD_NAME = "qupersync-lane"


def deal(items: Sequence[T], lanes: int) -> list[list[T]]:
    """``items`` dealt round robin into at most ``lanes`` non-empty lanes, order kept in each."""
    return [list(items[lane::lanes]) for lane in range(min(max(lanes, 1), len(items)))]


def run_lanes(lanes: Sequence[Lane]) -> None:
    """Run the lanes at once, the first in the calling thread; raise the first failure.

    Once a lane fails the others finish the day in hand and start no other; the failure is
    raised when all have ended, with the other lanes' failures, if any, noted on it.
    """
    stop = threading.Event()
    failures: list[BaseException] = []
    lock = threading.Lock()

    def run(lane: Lane) -> None:
        try:
            lane(stop.is_set)
        except BaseException as error:  # re-raised below, in the calling thread
            with lock:
                failures.append(error)
            stop.set()

    threads = [
        threading.Thread(target=run, args=(lane,), name=THREAD_NAME, daemon=True)
        for lane in lanes[1:]
    ]
    for thread in threads:
        thread.start()
    try:
        if lanes:
            run(lanes[0])
        for thread in threads:
            thread.join()
    except BaseException:
        stop.set()  # interrupted while waiting: the lanes stop at their next day
        raise
    if failures:
        first, *others = failures
        for other in others:
            first.add_note(f"another lane failed too: {type(other).__name__}: {other}")
        raise first
