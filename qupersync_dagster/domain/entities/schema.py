"""Column types shared by both ends of a sync.

Source and target each map their catalogue's type names onto these logical types; the schema
validator then decides compatibility on logical types alone, so neither side's vocabulary leaks
into the rules.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum


class TypeKind(StrEnum):
    VARCHAR = "varchar"
    CHAR = "char"
    TEXT = "text"
    SMALLINT = "smallint"
    INTEGER = "integer"
    BIGINT = "bigint"
    NUMERIC = "numeric"
    REAL = "real"
    DOUBLE = "double"
    BOOLEAN = "boolean"
    DATE = "date"
    TIMESTAMP = "timestamp"
    TIMESTAMPTZ = "timestamptz"
    JSON = "json"


_INTEGER_RANK = {TypeKind.SMALLINT: 1, TypeKind.INTEGER: 2, TypeKind.BIGINT: 3}
_STRING_KINDS = {TypeKind.VARCHAR, TypeKind.CHAR, TypeKind.TEXT}


@dataclass(frozen=True)
class ColumnType:
    kind: TypeKind
    length: int | None = None  # varchar/char: maximum length; None means unbounded
    precision: int | None = None  # numeric: total digits; None means unconstrained
    scale: int | None = None  # numeric: digits after the point

    def __str__(self) -> str:
        if self.kind in (TypeKind.VARCHAR, TypeKind.CHAR) and self.length is not None:
            return f"{self.kind.value}({self.length})"
        if self.kind is TypeKind.NUMERIC and self.precision is not None:
            return f"numeric({self.precision},{self.scale or 0})"
        return self.kind.value

    def holds(self, other: ColumnType) -> bool:
        """True when every value of ``other`` fits this type exactly: no truncation, no rounding."""
        if self.kind in _STRING_KINDS and other.kind in _STRING_KINDS:
            if self.kind is TypeKind.TEXT or self.length is None:
                return True
            if self.kind is TypeKind.CHAR and other.kind is not TypeKind.CHAR:
                return False  # char pads; a varchar round trip would gain trailing blanks
            return other.length is not None and other.length <= self.length
        if self.kind in _INTEGER_RANK and other.kind in _INTEGER_RANK:
            return _INTEGER_RANK[self.kind] >= _INTEGER_RANK[other.kind]
        if self.kind is TypeKind.NUMERIC and other.kind is TypeKind.NUMERIC:
            if self.precision is None:
                return True
            if other.precision is None:
                return False
            own_scale, other_scale = self.scale or 0, other.scale or 0
            return own_scale >= other_scale and (
                self.precision - own_scale >= other.precision - other_scale
            )
        if self.kind is TypeKind.NUMERIC and other.kind in _INTEGER_RANK:
            digits = {TypeKind.SMALLINT: 5, TypeKind.INTEGER: 10, TypeKind.BIGINT: 19}
            return (
                self.precision is None or self.precision - (self.scale or 0) >= digits[other.kind]
            )
        if self.kind is TypeKind.DOUBLE and other.kind in (TypeKind.REAL, TypeKind.DOUBLE):
            return True
        return self == other or (self.kind is other.kind and self.kind not in _STRING_KINDS)

    def widened_to_hold(self, other: ColumnType) -> ColumnType | None:
        """The smallest widening of this type that holds ``other``, or None when none is safe."""
        if self.holds(other):
            return self
        if self.kind is TypeKind.VARCHAR and other.kind in (TypeKind.VARCHAR, TypeKind.CHAR):
            return ColumnType(TypeKind.VARCHAR, length=other.length)
        if self.kind in _INTEGER_RANK and other.kind in _INTEGER_RANK:
            return other
        if self.kind is TypeKind.NUMERIC and other.kind is TypeKind.NUMERIC:
            if other.precision is None:
                return other
            scale = max(self.scale or 0, other.scale or 0)
            whole = max(
                (self.precision or 0) - (self.scale or 0),
                other.precision - (other.scale or 0),
            )
            return ColumnType(TypeKind.NUMERIC, precision=whole + scale, scale=scale)
        return None


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    nullable: bool = True


@dataclass(frozen=True)
class TableSchema:
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    _by_name: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {c.name: c for c in self.columns})

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def get(self, name: str) -> Column | None:
        return self._by_name.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def signature(self) -> str:
        """A short digest of names and types: when it changes, synced partitions may differ."""
        text = ";".join(f"{c.name}:{c.type}" for c in self.columns)
        return hashlib.sha256(text.encode()).hexdigest()[:16]
