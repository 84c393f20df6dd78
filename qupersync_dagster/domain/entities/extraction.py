"""How a day's rows leave the source: through a cursor on the leader node, or UNLOADed to S3.

A cursor funnels the whole result through Redshift's leader node, which materialises it before
the first FETCH and caps its size; UNLOAD has every compute slice write its share to S3 in
parallel. A table says which it wants (``extract``); ``auto`` lets each day's size decide.
What was chosen, why, and how much was staged is reported with the day.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ExtractMethod(StrEnum):
    CURSOR = "cursor"
    UNLOAD = "unload"
    AUTO = "auto"  # a table's setting only: UNLOAD above its threshold, the cursor below


@dataclass(frozen=True)
class ExtractChoice:
    """The method a read asks for (``CURSOR`` or ``UNLOAD``) and why, in words for the metadata."""

    method: ExtractMethod = ExtractMethod.CURSOR
    reason: str = "extract: cursor"


@dataclass(frozen=True)
class Extraction:
    """How a read went: the method used, why, and what UNLOAD staged (files and bytes in S3)."""

    method: ExtractMethod
    reason: str
    files: int = 0
    bytes_staged: int = 0

    def then(self, later: Extraction) -> Extraction:
        """Two reads of one day (an incremental one, then the whole day): the later's method and
        reason, the staging of both."""
        return Extraction(
            later.method,
            later.reason,
            self.files + later.files,
            self.bytes_staged + later.bytes_staged,
        )
