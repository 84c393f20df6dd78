"""What the checks and the asset's metadata read back from the mirror.

Reading the target to prove a sync right is a different job from writing it: these queries run
outside any partition transaction, never change a row, and are what the Dagster layer may ask
of the target directly. Declaring them here keeps that layer off the PostgreSQL adapter.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import date

from qupersync_dagster.domain.entities import (
    KeyViolations,
    SourceFingerprint,
    TableSchema,
    TableSpec,
)


class TargetReadModel(ABC):
    @abstractmethod
    def describe(self, spec: TableSpec) -> TableSchema | None:
        """The target table's columns, or None when it does not exist yet."""

    @abstractmethod
    def fingerprints(
        self, spec: TableSpec, start: date, end: date
    ) -> dict[date, SourceFingerprint]:
        """The target's own count and measure sum per day, for reconciliation with the source."""

    @abstractmethod
    def key_violations(self, spec: TableSpec, start: date, end: date) -> KeyViolations:
        """NULL and duplicate primary keys among the rows of ``[start, end)``."""

    @abstractmethod
    def key_enforced(self, spec: TableSpec) -> bool:
        """Whether the table's own primary key is ``spec``'s: the database rejects every NULL
        and duplicate key, so the rows need no scan to prove it."""

    @abstractmethod
    def preview(
        self, spec: TableSpec, start: date, end: date, limit: int = 10
    ) -> tuple[list[str], list[tuple[object, ...]]]:
        """A few of the window's rows (column names, rows) to show what was synced."""

    @abstractmethod
    def previews(
        self, spec: TableSpec, days: list[date], limit: int = 10
    ) -> dict[date, tuple[list[str], list[tuple[object, ...]]]]:
        """A few rows of each of ``days`` (column names, rows), every day present, one query."""
