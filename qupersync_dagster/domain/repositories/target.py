"""What the sync engine needs from the PostgreSQL mirror.

A partition is written through a :class:`PartitionLoad`, one database transaction that holds a
lock on (table, partition), changes the rows and records the new sync state; leaving the context
without ``commit`` rolls everything back, so data and state move together or not at all.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from contextlib import AbstractContextManager

from qupersync_dagster.domain.entities import (
    Column,
    LoadCounts,
    PartitionWindow,
    RowBatch,
    SourceFingerprint,
    SyncWatermark,
    TableSchema,
    TableSpec,
)


class PartitionLoad(ABC):
    waited_for_lock: bool
    """True when another run held the partition and this one had to wait for it."""

    @abstractmethod
    def stored_state(self) -> SyncWatermark | None:
        """The partition's sync state as seen inside this transaction (after the lock)."""

    @abstractmethod
    def replace(self, batches: Iterable[RowBatch]) -> LoadCounts:
        """Make the window's rows exactly ``batches``.

        The counts say what changed; rows equal to stored ones may stay in place uncounted.
        """

    @abstractmethod
    def upsert(self, batches: Iterable[RowBatch], *, full_window: bool) -> LoadCounts:
        """Insert or update ``batches`` by primary key (duplicates resolved deterministically).

        With ``full_window`` the batches are the window's complete contents, so target rows of
        the window whose key is absent from them are deleted as well.
        """

    @abstractmethod
    def count_rows(self) -> int:
        """Rows of the window currently in the target (inside this transaction)."""

    @abstractmethod
    def fingerprint(self) -> SourceFingerprint:
        """The window's rows as this transaction holds them: their count and measure sum, exactly
        as ``TargetReadModel.fingerprints`` reads the day once committed (zero rows: count 0).

        Taken right before ``commit``, it describes what commits, and reads rows this
        transaction wrote, which costs the server less than reading them once committed.
        """

    @abstractmethod
    def commit(self, state: SyncWatermark) -> None:
        """Record ``state`` and commit data and state together."""


class TargetRepository(ABC):
    @abstractmethod
    def describe(self, spec: TableSpec) -> TableSchema | None:
        """The target table's columns, or None when it does not exist yet."""

    @abstractmethod
    def create_table(self, spec: TableSpec, schema: TableSchema) -> None:
        """Create the target table (and its schema) for rows shaped like ``schema``."""

    @abstractmethod
    def evolve_table(self, spec: TableSpec, added: list[Column], widened: list[Column]) -> None:
        """Add columns and widen column types, in one transaction."""

    @abstractmethod
    def stored_states(self, table: str) -> dict[str, SyncWatermark]:
        """Every stored partition state of ``table``, by partition key."""

    @abstractmethod
    def partition(
        self, spec: TableSpec, window: PartitionWindow, columns: tuple[str, ...]
    ) -> AbstractContextManager[PartitionLoad]:
        """Open the transaction that (re)writes one partition of ``spec``'s target table."""
