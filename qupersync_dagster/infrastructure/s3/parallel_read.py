"""Read a day's staged files a few at a time, as one stream of line batches.

``readers`` threads each take the next file, inflate it as it downloads and put its batches on
one bounded queue, which the consumer empties in whatever order they arrive (a day's rows have
no order). Memory is bounded by the queue and one batch in the making per reader, whatever the
size of the day. The first failure stops every reader and is raised to the consumer; closing the
stream early stops them too.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar, cast

from qupersync_dagster.domain.services.pipeline import Failure, put_until_stopped
from qupersync_dagster.infrastructure.s3.gzip_lines import line_batches
from qupersync_dagster.infrastructure.s3.manifest import StagedFile

T = TypeVar("T")

_DONE = object()


def read_staged(
    files: Iterable[StagedFile],
    chunks: Callable[[str], Iterable[bytes]],
    convert: Callable[[bytes, int], T],
    readers: int,
) -> Iterator[T]:
    """``convert(lines, count)`` of every batch of every file; ``chunks(key)`` downloads one."""
    work: queue.SimpleQueue[StagedFile] = queue.SimpleQueue()
    for staged in files:
        work.put(staged)
    threads = min(readers, work.qsize())
    out: queue.Queue[object] = queue.Queue(maxsize=2 * max(threads, 1))
    stop = threading.Event()

    def put(item: object) -> bool:
        return put_until_stopped(out, item, stop)

    def read() -> None:
        try:
            while not stop.is_set():
                try:
                    staged = work.get_nowait()
                except queue.Empty:
                    break
                for lines, count in line_batches(chunks(staged.key), staged):
                    if not put(convert(lines, count)):
                        return
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, not swallowed
            put(Failure(error))
        finally:
            put(_DONE)

    workers = [
        threading.Thread(target=read, name=f"qupersync-s3-{n}", daemon=True) for n in range(threads)
    ]
    for worker in workers:
        worker.start()
    try:
        running = len(workers)
        while running:
            item = out.get()
            if item is _DONE:
                running -= 1
            elif isinstance(item, Failure):
                raise item.error
            else:
                yield cast(T, item)
    finally:
        stop.set()
        for worker in workers:
            worker.join()
