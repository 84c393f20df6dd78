"""Reading a generated source table back in the generator tests, without leaving a transaction."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from psycopg2.extensions import connection

from qupersync_dagster.devkit.embedded import ServerAddress


def with_table(
    server: ServerAddress,
    database: str,
    create: Callable[[connection, str, str], None],
    schema: str,
    table: str,
) -> Iterator[connection]:
    """A connection to ``database`` once ``create`` made ``schema.table`` there (for fixtures)."""
    with contextlib.closing(server.connect(database)) as conn:
        create(conn, schema, table)
        yield conn


def rows(conn: connection, query: str, parameters: tuple = ()) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(query, parameters)
        found = cur.fetchall()
    conn.rollback()
    return found


def one(conn: connection, query: str, parameters: tuple = ()) -> Any:
    """The single row's value (or the row, when it has several columns)."""
    (row,) = rows(conn, query, parameters)
    return row[0] if len(row) == 1 else row
