"""PostgreSQL's DDL for the logical column types."""

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
