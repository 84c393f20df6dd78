"""What the sync engine needs from the system of record (Redshift in production)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import date

from qupersync_dagster.domain.entities.read import WindowRead
from qupersync_dagster.domain.entities.schema import TableSchema
from qupersync_dagster.domain.entities.sync import RowBatch, SourceFingerprint
from qupersync_dagster.domain.entities.table import TableRef, TableSpec


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
