"""One read of a partition window from the source, as the sync engine asks for it.

Kept as one value so the port, the engine and every adapter agree on what a read means: which
table and columns, which window, only rows changed since a watermark or all of them, and how many
rows the day's fingerprint counted (an adapter with a cursor budget uses that to decide whether
the window must be read in slices), and whether to read it by cursor or by UNLOAD.
"""

from __future__ import annotations

from dataclasses import dataclass

from qupersync_dagster.domain.entities.extraction import ExtractChoice
from qupersync_dagster.domain.entities.schema import TableSchema
from qupersync_dagster.domain.entities.sync import PartitionWindow
from qupersync_dagster.domain.entities.table import TableSpec


@dataclass(frozen=True)
class WindowRead:
    spec: TableSpec
    schema: TableSchema
    window: PartitionWindow
    changed_since: str | None = None
    expected_rows: int | None = None
    choice: ExtractChoice = ExtractChoice()

    @property
    def what(self) -> str:
        """How errors name the read: table and partition."""
        return f"table {self.spec.name!r}, partition {self.window.key}"
