"""Feed COPY from an iterator of batches without joining them in memory."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from qupersync_dagster.domain.entities import RowBatch


class BatchReader:
    """A read-only file over batches, as psycopg2's ``copy_expert`` wants."""

    def __init__(self, batches: Iterable[RowBatch]):
        self._batches: Iterator[RowBatch] = iter(batches)
        self.error: BaseException | None = None
        """What producing the batches raised; psycopg2 reports it only as a cancelled COPY."""

    def read(self, size: int = -1) -> bytes:
        try:
            for batch in self._batches:
                if batch.data:
                    return batch.data
        except BaseException as error:
            self.error = error
            raise
        return b""

    readline = read
