"""Reading cost-usage tables from Redshift.

The driver buffers a statement's entire result in memory, so a plain SELECT of a month of CUR
would hold every row at once. Rows are therefore read through a server-side cursor, one FETCH of
``fetch_size`` rows at a time (at most what the cluster allows, see ``cluster``), inside a
read-only transaction that is always ended. A day over the table's cursor budget is read by
successive cursors over time slices (``slices``) in that one transaction.

A day the engine asks to UNLOAD (``extract``) skips the leader node's cursor: the same rendered
select is UNLOADed by every slice into a fresh S3 prefix, the manifest is checked, and the
staged files are streamed back concurrently as the same COPY text (``staged_read``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

import redshift_connector

from qupersync_dagster.domain.entities import (
    Column,
    Extraction,
    ExtractMethod,
    RedshiftQuery,
    RowBatch,
    SourceFingerprint,
    TableRef,
    TableSchema,
    TableSpec,
    WindowRead,
)
from qupersync_dagster.domain.errors import (
    ConfigError,
    QuperSyncError,
    SourceUnavailableError,
)
from qupersync_dagster.domain.repositories import Extract, SourceRepository
from qupersync_dagster.infrastructure.catalog_types import from_catalog, is_nullable
from qupersync_dagster.infrastructure.redshift import cluster, sql
from qupersync_dagster.infrastructure.redshift.fetch_lines import fetch_lines
from qupersync_dagster.infrastructure.redshift.row_text import RowLayout, unload_refusal
from qupersync_dagster.infrastructure.redshift.slices import plan_slices
from qupersync_dagster.infrastructure.redshift.staged_read import unloaded
from qupersync_dagster.infrastructure.s3.errors import StagingError, unload_refused
from qupersync_dagster.infrastructure.s3.settings import StagedLocation
from qupersync_dagster.infrastructure.s3.store import StagingStore

log = logging.getLogger(__name__)

# Matched by SQLSTATE, not message text: a missing column or function also "does not exist".
_UNDEFINED_TABLE = "42P01"
_QUERY_CANCELED = "57014"
# Redshift's words when a FETCH asks a single-node cluster for more rows than it allows.
_SINGLE_NODE_REFUSAL = "for a single node configuration"


class SourceTableMissingError(SourceUnavailableError):
    """The table is absent, as it is while a CUR loader drops and re-creates it."""


class RedshiftSourceRepository(SourceRepository):
    """One lazily opened connection, used by one operation at a time, re-opened after a failure."""

    def __init__(
        self,
        connect: Callable[[], redshift_connector.Connection],
        fetch_size: int,
        store: StagingStore | None = None,
    ):
        self._connect = connect
        self._conn: redshift_connector.Connection | None = None
        self.fetch_size = fetch_size
        self._fetch_limit: int | None = None  # learnt from the cluster once per repository
        self._store = store  # S3 staging for UNLOAD; None: every day is read by cursor

    def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - the connection may already be gone
                log.debug("closing a failed Redshift connection", exc_info=True)

    def _connection(self) -> redshift_connector.Connection:
        """The open connection, opened now if there is none."""
        if self._conn is None:
            try:
                self._conn = self._connect()
            except (
                redshift_connector.InterfaceError,
                redshift_connector.OperationalError,  # the driver's connect timeout
                OSError,
            ) as error:
                # The driver's words say why (SSL refused, certificate, refused, timed out);
                # they never carry the password.
                raise SourceUnavailableError(
                    f"cannot connect to Redshift ({type(error).__name__}: {error})"
                ) from error
            except redshift_connector.ProgrammingError as error:
                # The cluster refused the session (no such database or user, authentication
                # failed): configuration another attempt cannot fix. Its message names no secret.
                message = _server_message(error)
                raise ConfigError(f"cannot connect to Redshift: {message}") from error
        return self._conn

    def _cursor(self) -> redshift_connector.Cursor:
        return self._connection().cursor()

    def _fail(self, error: Exception, what: str) -> Exception:
        """Roll back, drop a broken connection and describe ``error`` as a domain error."""
        if isinstance(error, QuperSyncError):
            self._end()
            return error
        broken = isinstance(error, redshift_connector.InterfaceError | OSError)
        if broken:
            self.close()
        else:
            self._end()
        if broken or isinstance(error, redshift_connector.OperationalError):
            return SourceUnavailableError(
                f"{what}: the Redshift connection failed ({type(error).__name__}); "
                "nothing was written"
            )
        code = _sqlstate(error)
        if code == _UNDEFINED_TABLE:
            return SourceTableMissingError(f"{what}: the source table does not exist (now)")
        if code == _QUERY_CANCELED:
            return SourceUnavailableError(f"{what}: Redshift cancelled the statement (timeout)")
        if _SINGLE_NODE_REFUSAL in _server_message(error):
            # The node count misled us: remember the limit, and let the retry read at it.
            self._fetch_limit = sql.SINGLE_NODE_FETCH_LIMIT
            return SourceUnavailableError(
                f"{what}: the cluster allows at most {sql.SINGLE_NODE_FETCH_LIMIT} rows per FETCH;"
                " nothing was written, and a retry reads at that size"
            )
        return error

    def _end(self) -> None:
        if self._conn is not None:
            try:
                self._conn.rollback()
            except Exception:  # noqa: BLE001 - a dead connection is re-opened next time
                self.close()

    def _query(self, query: RedshiftQuery, what: str) -> list[Sequence[Any]]:
        cursor = self._cursor()
        try:
            cursor.execute(query.sql, query.params or None)
            rows = cursor.fetchall()
            self._connection().rollback()
            return list(rows)
        except Exception as error:
            raise self._fail(error, what) from error

    def describe(self, table: TableRef) -> TableSchema:
        rows = self._query(sql.describe_columns(table), f"describing {table}")
        if not rows:
            raise SourceTableMissingError(
                f"source table {table} does not exist or is not visible to this user"
            )
        columns = []
        for name, data_type, length, precision, scale, nullable in rows:
            column_type = from_catalog(data_type, length, precision, scale)
            if column_type is None:
                raise ConfigError(
                    f"source table {table}: column {name!r} has type {data_type!r}, "
                    "which QuperSync cannot mirror (supported: varchar, char, integers, numeric, "
                    "real, double precision, boolean, date, timestamp(tz), super)"
                )
            columns.append(Column(name, column_type, is_nullable(nullable)))
        return TableSchema(tuple(columns))

    def fetch_limit(self) -> int:
        """Rows per FETCH on this cluster: ``fetch_size``, capped at 1,000 on a single node."""
        try:
            return self._learn_fetch_limit()
        except Exception as error:
            raise self._fail(error, "asking the cluster its node count") from error

    def _learn_fetch_limit(self) -> int:
        if self._fetch_limit is None:
            nodes = cluster.node_count(self._connection())
            self._fetch_limit = cluster.fetch_limit(nodes, self.fetch_size)
        return self._fetch_limit

    def fingerprints(
        self, spec: TableSpec, schema: TableSchema, start: date, end: date
    ) -> dict[date, SourceFingerprint]:
        rows = self._query(sql.fingerprints(spec, start, end, schema), f"table {spec.name!r}")
        return {
            _as_date(day): SourceFingerprint(int(count), measure, watermark)
            for day, count, measure, watermark in rows
        }

    def stream(self, read: WindowRead) -> Iterator[RowBatch]:
        try:
            limit = self._learn_fetch_limit()
            cursor = self._cursor()
            for bounds in self._slices(cursor, read):
                select, layout = sql.select_rows(
                    read.spec, read.schema, read.window, read.changed_since, bounds
                )
                yield from self._read(cursor, select, layout, limit)
            self._connection().rollback()
        except GeneratorExit:
            self._end()
            raise
        except Exception as error:
            raise self._fail(error, read.what) from error

    def staging(self) -> bool:
        return self._store is not None

    def extract(self, read: WindowRead) -> Extract:
        if read.choice.method is not ExtractMethod.UNLOAD or self._store is None:
            return super().extract(read)
        select, layout = sql.select_rows(read.spec, read.schema, read.window, read.changed_since)
        refusal = unload_refusal(read.schema, layout)
        if refusal is None and "\\" in select:
            refusal = "a column name contains a backslash, which UNLOAD's quoted query cannot hold"
        if refusal is not None:
            log.info("%s: read by cursor, not UNLOAD: %s", read.what, refusal)
            reason = f"{read.choice.reason}; read by cursor: {refusal}"
            return Extract(self.stream(read), Extraction(ExtractMethod.CURSOR, reason))
        store = self._store
        return unloaded(
            read, layout, store, lambda location: self._run_unload(read, select, location, store)
        )

    def _run_unload(
        self, read: WindowRead, select: str, location: StagedLocation, store: StagingStore
    ) -> None:
        """Run the UNLOAD; its failures are raised unnamed, ``_unload`` names the read."""
        staging = store.staging
        statement = sql.unload(select, location.url, staging.iam_role, staging.region)
        try:
            self._cursor().execute(statement)
            self._connection().rollback()
        except Exception as error:
            failure = self._fail(error, read.what)
            if isinstance(failure, QuperSyncError):
                raise failure from error
            message = _server_message(error)
            if unload_refused(message):
                raise ConfigError(
                    f"S3 refused the UNLOAD to {location.url} ({message}); check "
                    "REDSHIFT_UNLOAD_BUCKET and _REGION and what the role may do; nothing was "
                    "written"
                ) from error
            raise StagingError(
                f"UNLOAD to {location.url} failed ({message}); nothing was written"
            ) from error

    def _slices(
        self, cursor: redshift_connector.Cursor, read: WindowRead
    ) -> list[tuple[datetime, datetime] | None]:
        """The window whole, or its time slices when it may hold more rows than the budget."""
        spec, budget = read.spec, read.spec.cursor_budget_rows
        if budget is None or (read.expected_rows is not None and read.expected_rows <= budget):
            return [None]
        cursor.execute(sql.hour_counts(spec, read.schema, read.window, read.changed_since))
        slices = plan_slices(read.window, cursor.fetchall(), budget)
        if len(slices) > 1:
            log.info("table %r, %s: read in %d slices", spec.name, read.window.key, len(slices))
        return list(slices)

    def _read(
        self, cursor: redshift_connector.Cursor, select: str, layout: RowLayout, limit: int
    ) -> Iterator[RowBatch]:
        """One cursor over ``select``, FETCHed in growing batches, then closed."""
        cursor.execute(sql.declare(select))
        sizes = cluster.fetch_sizes(limit)
        while True:
            lines, rows = fetch_lines(self._connection(), cursor, sql.fetch(next(sizes)), layout)
            if not rows:
                break
            yield RowBatch(lines, rows)
        cursor.execute(sql.CLOSE)


def _sqlstate(error: Exception) -> str | None:
    """The SQLSTATE the server sent; the driver passes the error's fields as a dict."""
    fields = error.args[0] if error.args else None
    return fields.get("C") if isinstance(fields, dict) else None


def _server_message(error: Exception) -> str:
    """The server's own message (its 'M' field), else the error's type."""
    fields = error.args[0] if error.args else None
    message = fields.get("M") if isinstance(fields, dict) else None
    return message or type(error).__name__


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
