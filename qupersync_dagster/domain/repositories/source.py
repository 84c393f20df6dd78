"""What the sync engine needs from the system of record (Redshift in production)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date

from qupersync_dagster.domain.entities.extraction import Extraction, ExtractMethod
from qupersync_dagster.domain.entities.read import WindowRead
from qupersync_dagster.domain.entities.schema import TableSchema
from qupersync_dagster.domain.entities.sync import RowBatch, SourceFingerprint
from qupersync_dagster.domain.entities.table import TableRef, TableSpec


def _nothing_staged() -> None:
    return None


@dataclass
class Extract:
    """One read of a window: its batches, how it is made, and how to drop what it staged.

    ``discard`` runs once the day's target transaction has ended, committed or not: staged
    files are needed until the commit and by nothing after it (a retry stages its own). It
    never raises: what it cannot delete is left to the bucket's lifecycle rule.
    """

    batches: Iterator[RowBatch]
    extraction: Extraction
    discard: Callable[[], None] = field(default=_nothing_staged)


class SourceRepository(ABC):
    @abstractmethod
    def describe(self, table: TableRef) -> TableSchema:
        """The table's columns in catalogue order; ``ConfigError`` when the table does not exist."""

    @abstractmethod
    def fingerprints(
        self, spec: TableSpec, schema: TableSchema, start: date, end: date
    ) -> dict[date, SourceFingerprint]:
        """Fingerprints of every day in ``[start, end)`` that has rows, from one grouped query."""

    @abstractmethod
    def stream(self, read: WindowRead) -> Iterator[RowBatch]:
        """The window's rows in batches of bounded size, columns in ``read.schema`` order.

        With ``read.changed_since``, only rows whose watermark column is later than that value.
        ``read.expected_rows`` (the fingerprint's count) lets a window within the table's cursor
        budget be read without first measuring it; a larger one is read in slices.
        """

    def staging(self) -> bool:
        """Whether windows can be UNLOADed through S3 staging here; without it, cursor only."""
        return False

    def extract(self, read: WindowRead) -> Extract:
        """The window's rows as ``read.choice`` asks; a source without staging streams them.

        An adapter that UNLOADs does its slow, fallible part (the UNLOAD, checking what was
        staged) here, before the target writes anything; the batches then only read.
        """
        reason = read.choice.reason
        return Extract(self.stream(read), Extraction(ExtractMethod.CURSOR, reason))
