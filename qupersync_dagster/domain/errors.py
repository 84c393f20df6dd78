"""Errors a data engineer can act on.

Each error says which table (and where it applies, which column and what class of value) went
wrong, never the connection secrets. ``retryable`` tells the orchestrator whether trying again can
help: a cut connection can, a schema mismatch cannot.
"""

from __future__ import annotations


class QuperSyncError(Exception):
    retryable = False


class ConfigError(QuperSyncError):
    """The table list or connection settings are invalid."""


class SchemaMismatchError(QuperSyncError):
    """Source and target schemas differ in ways QuperSync will not bridge silently."""

    def __init__(self, table: str, differences: list[str]):
        self.table = table
        self.differences = list(differences)
        lines = "\n".join(f"  - {d}" for d in self.differences)
        super().__init__(
            f"table {table!r}: {len(self.differences)} schema difference(s), nothing written:\n"
            f"{lines}"
        )


class DataError(QuperSyncError):
    """A value from the source cannot be stored in the target as it is."""

    def __init__(
        self,
        table: str,
        partition: str,
        column: str | None,
        value_class: str,
        detail: str = "",
    ):
        self.table = table
        self.partition = partition
        self.column = column
        self.value_class = value_class
        where = f"column {column!r}" if column else "a column"
        extra = f" ({detail})" if detail else ""
        super().__init__(
            f"table {table!r}, partition {partition}: {where} has a value the target refuses: "
            f"{value_class}{extra}; the partition was rolled back, target and sync state unchanged"
        )


class SourceUnavailableError(QuperSyncError):
    """The source connection failed or timed out; the partition was rolled back."""

    retryable = True


class TargetUnavailableError(QuperSyncError):
    """The target connection failed or timed out; the partition was rolled back."""

    retryable = True
