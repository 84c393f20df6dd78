"""PostgreSQL's names for the logical column types, both ways."""

from __future__ import annotations

from qupersync_dagster.domain.entities import ColumnType, TypeKind

_DDL = {
    TypeKind.TEXT: "text",
    TypeKind.SMALLINT: "smallint",
    TypeKind.INTEGER: "integer",
    TypeKind.BIGINT: "bigint",
    TypeKind.REAL: "real",
    TypeKind.DOUBLE: "double precision",
    TypeKind.BOOLEAN: "boolean",
    TypeKind.DATE: "date",
    TypeKind.TIMESTAMP: "timestamp without time zone",
    TypeKind.TIMESTAMPTZ: "timestamp with time zone",
    TypeKind.JSON: "jsonb",
}

_CATALOG = {
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
    "jsonb": TypeKind.JSON,
    "json": TypeKind.JSON,
}


def ddl(column_type: ColumnType) -> str:
    """The PostgreSQL type that stores every value of ``column_type`` exactly."""
    kind = column_type.kind
    if kind is TypeKind.VARCHAR:
        return f"varchar({column_type.length})" if column_type.length else "text"
    if kind is TypeKind.CHAR:
        return f"char({column_type.length or 1})"
    if kind is TypeKind.NUMERIC:
        if column_type.precision is None:
            return "numeric"
        return f"numeric({column_type.precision},{column_type.scale or 0})"
    return _DDL[kind]


def from_catalog(
    data_type: str, length: int | None, precision: int | None, scale: int | None
) -> ColumnType | None:
    """The logical type of an ``information_schema.columns`` row, None when QuperSync has none."""
    if data_type == "character varying":
        return ColumnType(TypeKind.VARCHAR, length=length)
    if data_type == "character":
        return ColumnType(TypeKind.CHAR, length=length)
    if data_type == "numeric":
        return ColumnType(TypeKind.NUMERIC, precision=precision, scale=scale)
    kind = _CATALOG.get(data_type)
    return ColumnType(kind) if kind else None
