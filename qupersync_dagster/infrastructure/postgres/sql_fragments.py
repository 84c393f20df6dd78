"""The pieces the target's statements are composed from, all with ``psycopg2.sql``.

Identifiers are always quoted and values always passed as parameters; building every statement
of the schema, write and read modules from these few pieces keeps that true in one place.
"""

from __future__ import annotations

from collections.abc import Iterable

from psycopg2 import sql

from qupersync_dagster.domain.entities import TableSpec

NOTHING = sql.SQL("")


def table(spec: TableSpec) -> sql.Identifier:
    """The target table of ``spec``, schema-qualified."""
    return sql.Identifier(spec.target.schema, spec.target.name)


def names(columns: Iterable[str]) -> sql.Composed:
    """``columns`` as a comma-separated list of quoted names."""
    return sql.SQL(", ").join(map(sql.Identifier, columns))


def prefixed(prefix: str, columns: Iterable[str]) -> sql.Composed:
    """``columns`` of the row source ``prefix`` (an alias or ``EXCLUDED``), comma-separated."""
    return sql.SQL(", ").join(
        sql.SQL("{}.{}").format(sql.SQL(prefix), sql.Identifier(c)) for c in columns
    )


def keys_match(keys: Iterable[str]) -> sql.Composed:
    """Staged row ``s`` and stored row ``t`` have the same ``keys``."""
    return sql.SQL(" AND ").join(sql.SQL("s.{0} = t.{0}").format(sql.Identifier(k)) for k in keys)


def window_predicate(spec: TableSpec) -> sql.Composed:
    """The partition column in ``[%(start)s, %(end)s)``: the rows of a window."""
    return sql.SQL("{column} >= %(start)s AND {column} < %(end)s").format(
        column=sql.Identifier(spec.partition_column)
    )


def window_params(start: object, end: object) -> dict[str, object]:
    """The parameters ``window_predicate`` expects."""
    return {"start": start, "end": end}
