"""A run's partition reads, the next one started as soon as the source is free.

Days are written one after the other, each in its own target transaction, but the source is done
with a day once its last row is fetched, while the target still copies the rows in hand, commits
and locks the next day. The next read the run plans starts then, on a worker of its own and
bounded like any read, so the source is rarely idle between days. A partition takes the started
read only when the read it decides on under its lock is that very read; a read started ahead that
no partition takes is closed, so the target never sees rows it did not ask for. Only a day's last
read starts the next one: after an incremental read the whole day may still be needed. Only a
cursor read is started ahead: an UNLOAD stages the day in S3 when it is opened, under the day's
lock, so a retry never finds files of a read nobody took.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import replace

from qupersync_dagster.domain.entities import Extraction, ExtractMethod, RowBatch, WindowRead
from qupersync_dagster.domain.repositories import Extract
from qupersync_dagster.domain.services.pipeline import Prefetch


class Counted:
    """One read's batches, counted as they flow; how the read was made and what it staged."""

    def __init__(self, extract: Extract, depth: int):
        self._batches = Prefetch(extract.batches, depth)
        self.extraction: Extraction = extract.extraction
        self.discard: Callable[[], None] = extract.discard
        self.rows = 0

    def __iter__(self) -> Generator[RowBatch, None, None]:
        try:
            for batch in self._batches:
                self.rows += batch.rows
                yield batch
        finally:
            self._batches.close()

    def close(self) -> None:
        self._batches.close()


class _Started:
    """One read under way; ``drained`` once its last row has left the source."""

    def __init__(self, read: WindowRead):
        self.read = read
        self.drained = False
        self.stream: Counted


class ReadAhead:
    """Opens a run's reads; ``planned`` lists the reads the run expects to make, in order."""

    def __init__(
        self,
        extract: Callable[[WindowRead], Extract],
        depth: int,
        planned: list[WindowRead],
    ):
        self._extract = extract
        self._depth = depth
        self._following = {
            read.window.key: after for read, after in zip(planned, planned[1:], strict=False)
        }
        self._lock = threading.Lock()
        self._active: _Started | None = None
        self._ahead: _Started | None = None
        self._closed = False

    def open(self, read: WindowRead) -> Counted:
        """``read``'s rows: the read started ahead if it is this very read, else a new one."""
        unwanted = None
        with self._lock:
            started, self._ahead = self._ahead, None
            if started is None or started.read != read:
                unwanted, started = started, self._start(read)
            self._active = started
            if started.drained:
                self._start_following(started)
        if unwanted is not None:
            _end(unwanted)  # outside the lock: its worker may be waiting for it
        return started.stream

    def drop_ahead(self) -> None:
        """Close the read started ahead, if any: the partition it was for needs none."""
        with self._lock:
            ahead, self._ahead = self._ahead, None
        if ahead is not None:
            _end(ahead)

    def close(self) -> None:
        """End the run's reads: every one still under way is closed, and none starts after."""
        with self._lock:
            self._closed = True
            reads = [r for r in (self._active, self._ahead) if r is not None]
            self._active = self._ahead = None
        for read in reads:
            read.stream.close()  # the active read's staging is its partition's to discard

    def _start(self, read: WindowRead) -> _Started:
        started = _Started(read)
        extract = self._extract(read)
        if read.changed_since is None and read.window.key in self._following:
            extract = replace(extract, batches=self._then_follow(extract.batches, started))
        started.stream = Counted(extract, self._depth)
        return started

    def _then_follow(
        self, batches: Iterator[RowBatch], started: _Started
    ) -> Generator[RowBatch, None, None]:
        """``batches``, then, on the worker with the source now free, the next planned read."""
        yield from batches
        with self._lock:
            started.drained = True
            if self._active is started:
                self._start_following(started)

    def _start_following(self, started: _Started) -> None:
        """Start the read planned after ``started`` (lock held)."""
        following = self._following.get(started.read.window.key)
        if (
            following is not None
            and following.choice.method is ExtractMethod.CURSOR
            and self._ahead is None
            and not self._closed
        ):
            self._ahead = self._start(following)


def _end(started: _Started) -> None:
    """Close a read no partition took, and drop anything it staged."""
    started.stream.close()
    started.stream.discard()
