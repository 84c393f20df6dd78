"""The one way into the target database: the client deadline and error translation around it.

Everything that touches the target (DDL, catalogue reads, a day's transaction, the checks' read
model, the daily summary) opens its connection here, so none of it can block forever on a server
that stopped answering (``watchdog``) or surface a raw driver error instead of the domain's
retryable or data error (``errors``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import psycopg2.extensions
import sqlalchemy as sa

from qupersync_dagster.infrastructure.postgres.errors import translate, unanswered
from qupersync_dagster.infrastructure.postgres.watchdog import deadline


def driver_connection(conn: sa.Connection) -> psycopg2.extensions.connection:
    """The psycopg2 connection under ``conn``: ``psycopg2.sql`` statements and COPY need it."""
    dbapi = conn.connection.dbapi_connection
    if dbapi is None:  # only a connection already closed has none
        raise RuntimeError("the target connection is closed")
    return cast(psycopg2.extensions.connection, dbapi)


def one_row(cursor: psycopg2.extensions.cursor) -> tuple[Any, ...]:
    """The one row an aggregate (or lock) query always returns."""
    row = cursor.fetchone()
    if row is None:
        raise RuntimeError("the target returned no row where one is always returned")
    return row


class GuardedEngine:
    """``engine`` with every use bounded by ``timeout_s`` (0: no limit) and failures translated."""

    def __init__(self, engine: sa.Engine, timeout_s: float):
        self.engine = engine
        self.timeout_s = timeout_s

    @contextmanager
    def guard(self, table: str, partition: str | None = None) -> Iterator[None]:
        """Run the block under the deadline; its failures become domain errors naming the place.

        Connections opened inside the block (the pool reports them) are severed at the deadline.
        """
        watch = None
        try:
            with deadline(self.timeout_s) as watch:
                yield
        except Exception as error:
            if watch is not None and watch.expired:
                raise unanswered(watch.seconds, table, partition) from error
            translated = translate(error, table, partition)
            if translated is error:
                raise
            raise translated from error

    @contextmanager
    def connection(self, table: str, *, begin: bool = False) -> Iterator[sa.Connection]:
        """A pooled connection (in a transaction with ``begin``), guarded for ``table``."""
        with self.guard(table), self.engine.begin() if begin else self.engine.connect() as conn:
            yield conn

    @contextmanager
    def cursor(self, table: str, *, begin: bool = False) -> Iterator[psycopg2.extensions.cursor]:
        """A psycopg2 cursor on a guarded ``connection``, for ``psycopg2.sql`` statements."""
        with (
            self.connection(table, begin=begin) as conn,
            driver_connection(conn).cursor() as cursor,
        ):
            yield cursor
