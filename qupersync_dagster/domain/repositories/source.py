"""What the sync engine needs from the system of record (Redshift in production)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import date

from qupersync_dagster.domain.entities import (
    PartitionWindow,
    RowBatch,
    SourceFingerprint,
    TableRef,
    TableSchema,
    TableSpec,
)


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
    def stream(
        self,
        spec: TableSpec,
        schema: TableSchema,
        window: PartitionWindow,
        changed_since: str | None = None,
        expected_rows: int | None = None,
    ) -> Iterator[RowBatch]:
        """The window's rows in batches of bounded size, columns in ``schema`` order.

        With ``changed_since``, only rows whose watermark column is later than that value.
        ``expected_rows`` (the fingerprint's count) lets a window within the table's cursor
        budget be read without first measuring it; a larger one is read in slices.
        """
