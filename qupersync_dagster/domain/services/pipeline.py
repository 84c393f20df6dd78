"""Overlap extraction with loading.

Fetching from the source and copying into the target each wait on a socket most of the time, so
the source is read on a worker thread while the target consumes. The bounded queue keeps at most
``depth`` batches in memory, whatever the table's size.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from typing import TypeVar, cast

T = TypeVar("T")

_DONE = object()


class Failure:
    """What a worker raised, queued for the consumer to raise in its own thread."""

    def __init__(self, error: BaseException):
        self.error = error


def put_until_stopped(buffer: queue.Queue[object], item: object, stop: threading.Event) -> bool:
    """Put ``item`` on the bounded ``buffer`` unless ``stop`` is set first; whether it was put."""
    while not stop.is_set():
        try:
            buffer.put(item, timeout=0.05)
            return True
        except queue.Full:
            continue
    return False


def prefetch(items: Iterator[T], depth: int = 4) -> Generator[T, None, None]:
    """Yield ``items`` as produced on a worker thread, at most ``depth`` ahead of the consumer.

    A failure on the worker is raised in the consumer; closing the returned generator early
    stops the worker and closes ``items`` there, so a source cursor is always released.
    """
    buffer: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        return put_until_stopped(buffer, item, stop)

    def work() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, not swallowed
            put(Failure(error))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=work, name="qupersync-extract", daemon=True)
    worker.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, Failure):
                raise item.error
            yield cast(T, item)
    finally:
        stop.set()
        worker.join()
