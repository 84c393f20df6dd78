"""Overlap extraction with loading.

Fetching from the source and copying into the target each wait on a socket most of the time, so
the source is read on a worker thread while the target consumes. The bounded queue keeps at most
``depth`` batches in memory, whatever the table's size. The worker starts at once, so a read can
begin before anyone consumes it (the sync engine reads the next day while the target commits).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Generic, TypeVar, cast

T = TypeVar("T")

_DONE = object()


class Failure:
    """What a worker raised, queued for the consumer to raise in its own thread."""

    def __init__(self, error: BaseException):
        self.error = error


class Prefetch(Generic[T]):
    """``items`` as produced on a worker thread, at most ``depth`` ahead of the consumer.

    A failure on the worker is raised in the consumer; closing early (or dropping the iterator)
    stops the worker and closes ``items`` there, so a source cursor is always released.
    """

    def __init__(self, items: Iterator[T], depth: int = 4):
        self._buffer: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._finished = False
        # The worker holds the queue, not this object, so dropping the iterator closes it.
        self._worker = threading.Thread(
            target=_work,
            args=(items, self._buffer, self._stop),
            name="qupersync-extract",
            daemon=True,
        )
        self._worker.start()

    def __iter__(self) -> Prefetch[T]:
        return self

    def __next__(self) -> T:
        if self._finished:
            raise StopIteration
        item = self._buffer.get()
        if item is _DONE:
            self.close()
            raise StopIteration
        if isinstance(item, Failure):
            self.close()
            raise item.error
        return cast(T, item)

    def close(self) -> None:
        self._finished = True
        self._stop.set()
        if threading.current_thread() is not self._worker:
            self._worker.join()

    def __del__(self) -> None:
        self.close()


def put_until_stopped(buffer: queue.Queue[object], item: object, stop: threading.Event) -> bool:
    """Put ``item`` on the bounded ``buffer`` unless ``stop`` is set first; whether it was put."""
    while not stop.is_set():
        try:
            buffer.put(item, timeout=0.05)
            return True
        except queue.Full:
            continue
    return False


def _work(items: Iterator[T], buffer: queue.Queue[object], stop: threading.Event) -> None:
    try:
        for item in items:
            if not put_until_stopped(buffer, item, stop):
                return
        put_until_stopped(buffer, _DONE, stop)
    except BaseException as error:  # noqa: BLE001 - handed to the consumer, not swallowed
        put_until_stopped(buffer, Failure(error), stop)
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()


def prefetch(items: Iterator[T], depth: int = 4) -> Prefetch[T]:
    """Start reading ``items`` on a worker thread now; see ``Prefetch``."""
    return Prefetch(items, depth)
