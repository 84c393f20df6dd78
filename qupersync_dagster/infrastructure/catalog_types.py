"""Catalogue type names mapped onto the logical column types, for both ends.

Redshift and PostgreSQL describe columns through the same ``information_schema.columns``
vocabulary (Redshift descends from PostgreSQL 8), so one mapping serves both; ``super`` occurs on
Redshift only, ``json``/``jsonb`` on PostgreSQL-compatible sources and on the target.
"""

from __future__ import annotations

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


def from_catalog(
    data_type: str, length: int | None, precision: int | None, scale: int | None
) -> ColumnType | None:
    """The logical type of an ``information_schema.columns`` row, None when QuperSync has none."""
    if data_type == "character varying":
        return ColumnType(TypeKind.VARCHAR, length=length)
    if data_type in ("character", "bpchar"):
        return ColumnType(TypeKind.CHAR, length=length)
    if data_type == "numeric":
        return ColumnType(TypeKind.NUMERIC, precision=precision, scale=scale)
    kind = _SIMPLE.get(data_type)
    return ColumnType(kind) if kind else None
