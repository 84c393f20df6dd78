"""A statement for the source, kept apart from its values so values always travel as parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RedshiftQuery:
    sql: str
    params: tuple[Any, ...] = ()
