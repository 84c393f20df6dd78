"""Proof that a target holds exactly the source's rows: one digest over every row and column.

The digest is computed by the server on each side with the same SQL: an md5 per row of the row's
text form, then an md5 of those in primary-key order. A changed digit of scale, a timestamp
moved by a time zone, NULL turned into '' or a mangled escape all change it. JSON is compared as
``jsonb`` on both sides, because that is what the target stores (``json`` keeps the source's
spacing, ``jsonb`` normalises it). Floats are compared in their shortest exact text
(``extra_float_digits`` 1), whatever the database's default, so one differing bit shows.

A peer that chose other column types (``timestamptz`` for ``timestamp``, say) is compared
``lenient``: each target column is cast to the source column's type first, so only values count.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from psycopg2 import sql

from qupersync_dagster.devkit.embedded import ServerAddress

_SESSION = "SET timezone TO 'UTC'; SET extra_float_digits TO 1"
_COLUMN_TYPES = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_attribute a
WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""


@dataclass(frozen=True)
class Digest:
    rows: int
    md5: str


@dataclass(frozen=True)
class Table:
    database: str
    schema: str
    name: str

    @property
    def qualified(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)


def source_columns(server: ServerAddress, table: Table) -> list[tuple[str, str]]:
    """(name, type) of ``table``'s columns in order."""
    with contextlib.closing(server.connect(table.database)) as conn, conn.cursor() as cursor:
        regclass = f'"{table.schema}"."{table.name}"'
        cursor.execute(_COLUMN_TYPES, (regclass,))
        return list(cursor.fetchall())


def digest(
    server: ServerAddress,
    table: Table,
    columns: list[tuple[str, str]],
    key: tuple[str, ...],
    *,
    lenient: bool = False,
) -> Digest:
    """Row count and digest of ``columns`` (name, source type) of ``table``, in ``key`` order."""
    values = [_value(name, type_, lenient) for name, type_ in columns]
    order = [sql.SQL('{} COLLATE "C"').format(sql.Identifier(k)) for k in key]
    query = sql.SQL(
        "SELECT count(*), md5(coalesce(string_agg(md5(ROW({values})::text), '' ORDER BY {order}),"
        " '')) FROM {table}"
    ).format(
        values=sql.SQL(", ").join(values),
        order=sql.SQL(", ").join(order),
        table=table.qualified,
    )
    with contextlib.closing(server.connect(table.database)) as conn, conn.cursor() as cursor:
        cursor.execute(_SESSION)
        cursor.execute(query)
        rows, md5 = cursor.fetchone()
    return Digest(rows, md5)


def differing_columns(
    server: ServerAddress,
    source: Table,
    target: Table,
    columns: list[tuple[str, str]],
    *,
    lenient: bool = False,
) -> list[str]:
    """The columns whose values differ between the tables, to say what a digest mismatch is.

    Compares, per column, the count of non-NULL values and the sum of their hashes: blind to
    which row holds which value, enough to name the columns that changed.
    """

    def profile(table: Table) -> tuple:
        aggregates = []
        for name, type_ in columns:
            value = _value(name, type_, lenient)
            aggregates += [
                sql.SQL("count({})").format(value),
                sql.SQL("sum(hashtextextended(CAST({} AS text), 0)::numeric)").format(value),
            ]
        query = sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(aggregates), table.qualified)
        with contextlib.closing(server.connect(table.database)) as conn, conn.cursor() as cur:
            cur.execute(_SESSION)
            cur.execute(query)
            return cur.fetchone()

    expected, found = profile(source), profile(target)
    return [
        name
        for i, (name, _) in enumerate(columns)
        if expected[2 * i : 2 * i + 2] != found[2 * i : 2 * i + 2]
    ]


def _value(name: str, type_: str, lenient: bool) -> sql.Composable:
    column = sql.Identifier(name)
    if type_ in ("json", "jsonb"):
        return sql.SQL("CAST({} AS jsonb)").format(column)
    if lenient:
        return sql.SQL("CAST({} AS {})").format(column, sql.SQL(type_))
    return column
