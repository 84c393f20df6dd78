"""Catalogue type names mapped onto the logical column types, for both ends.

Redshift and PostgreSQL describe columns through the same ``information_schema.columns``
vocabulary (Redshift descends from PostgreSQL 8), which Redshift's ``SVV_ALL_COLUMNS`` shares, so
one mapping serves both; ``super`` occurs on Redshift only, ``json``/``jsonb`` on
PostgreSQL-compatible sources and on the target. Spectrum external tables are described in their
external (Hive) vocabulary instead -- ``string``, ``int``, ``double``, ``decimal(38,10)``,
``varchar(256)`` -- with any length inside the name; those are mapped here too.
"""

from __future__ import annotations

import re

from qupersync_dagster.domain.entities import ColumnType, TypeKind

_SIMPLE = {
    "text": TypeKind.TEXT,
    "smallint": TypeKind.SMALLINT,
    "integer": TypeKind.INTEGER,
    "bigint": TypeKind.BIGINT,
    "real": TypeKind.REAL,
    "double precision": TypeKind.DOUBLE,
    "boolean": TypeKind.BOOLEAN,
    "date": TypeKind.DATE,
    "timestamp without time zone": TypeKind.TIMESTAMP,
    "timestamp with time zone": TypeKind.TIMESTAMPTZ,
    "super": TypeKind.JSON,
    "jsonb": TypeKind.JSON,
    "json": TypeKind.JSON,
}
# Spectrum's external type names (SVV_EXTERNAL_COLUMNS.external_type).
_EXTERNAL = {
    "string": TypeKind.TEXT,
    "tinyint": TypeKind.SMALLINT,
    "int": TypeKind.INTEGER,
    "float": TypeKind.REAL,
    "double": TypeKind.DOUBLE,
    "timestamp": TypeKind.TIMESTAMP,
}
_EXTERNAL_SIZED = re.compile(r"^(varchar|char|decimal|numeric)\((\d+)(?:,\s*(\d+))?\)$")


def from_catalog(
    data_type: str, length: int | None, precision: int | None, scale: int | None
) -> ColumnType | None:
    """The logical type of a catalogue row, None when QuperSync has none."""
    data_type = data_type.strip().lower()
    if data_type in ("character varying", "varchar"):
        return ColumnType(TypeKind.VARCHAR, length=length)
    if data_type in ("character", "bpchar", "char"):
        return ColumnType(TypeKind.CHAR, length=length)
    if data_type in ("numeric", "decimal"):
        return ColumnType(TypeKind.NUMERIC, precision=precision, scale=scale)
    sized = _EXTERNAL_SIZED.match(data_type)
    if sized:
        name, first, second = sized.groups()
        return from_catalog(name, int(first), int(first), int(second or 0))
    kind = _SIMPLE.get(data_type) or _EXTERNAL.get(data_type)
    return ColumnType(kind) if kind else None


def is_nullable(flag: str | None) -> bool:
    """``is_nullable`` as catalogues spell it: YES/NO, or true/false/'' for external tables."""
    return (flag or "").strip().lower() not in ("no", "false")
