"""The PostgreSQL mirror: table DDL, partition transactions, sync state."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import NamedTuple

import psycopg2
import sqlalchemy as sa
from psycopg2 import sql

from qupersync_dagster.domain.entities import (
    Column,
    LoadCounts,
    PartitionWindow,
    RowBatch,
    SourceFingerprint,
    SyncWatermark,
    TableSchema,
    TableSpec,
)
from qupersync_dagster.domain.errors import ConfigError, DataError, TargetUnavailableError
from qupersync_dagster.domain.repositories import PartitionLoad, TargetRepository
from qupersync_dagster.infrastructure.catalog_types import from_catalog
from qupersync_dagster.infrastructure.float_sql import float_measure_sum
from qupersync_dagster.infrastructure.postgres import types
from qupersync_dagster.infrastructure.postgres.copy_stream import BatchReader
from qupersync_dagster.infrastructure.postgres.errors import translate
from qupersync_dagster.infrastructure.postgres.state_store import StateStore
from qupersync_dagster.infrastructure.postgres.watchdog import Deadline, deadline

_COPY_BUFFER = 1 << 20
# Comparing a stored day with its new rows hashes the day in memory; the stock 4 MB spills a
# 30,000-row CUR day to disk. Raised for that one transaction, never lowered.
_DIFF_WORK_MEM = "64MB"
_NOTHING = sql.SQL("")

_DESCRIBE = sa.text(
    """
    SELECT column_name, data_type, character_maximum_length, numeric_precision, numeric_scale,
           is_nullable = 'YES' AS nullable
    FROM information_schema.columns
    WHERE table_schema = :schema AND table_name = :table
    ORDER BY ordinal_position
    """
)

_PRIMARY_KEY = sa.text(
    """
    SELECT a.attname
    FROM pg_index i
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
    WHERE i.indisprimary
      AND i.indrelid = to_regclass(quote_ident(:schema) || '.' || quote_ident(:table))
    ORDER BY array_position(i.indkey, a.attnum)
    """
)


def _table(spec: TableSpec) -> sql.Identifier:
    return sql.Identifier(spec.target.schema, spec.target.name)


def _names(columns: Iterable[str]) -> sql.Composed:
    return sql.SQL(", ").join(map(sql.Identifier, columns))


def _window_predicate(spec: TableSpec) -> sql.Composed:
    return sql.SQL("{column} >= %(start)s AND {column} < %(end)s").format(
        column=sql.Identifier(spec.partition_column)
    )


def _comparable(alias: str, columns: list[str], as_text: set[str]) -> sql.Composed:
    """``alias``'s ``columns`` for a row comparison that holds only for identical values."""
    return sql.SQL(", ").join(
        sql.SQL("CAST({}.{} AS text)" if c in as_text else "{}.{}").format(
            sql.Identifier(alias), sql.Identifier(c)
        )
        for c in columns
    )


class KeyViolations(NamedTuple):
    """How far a window's rows are from satisfying the configured primary key."""

    rows: int
    null_key_rows: int  # rows with NULL in any key column
    duplicate_keys: int  # distinct non-NULL keys held by more than one row
    duplicate_rows: int  # rows beyond the first of each such key


def _unanswered(watch: Deadline, where: str) -> TargetUnavailableError:
    return TargetUnavailableError(
        f"{where}: the target did not answer within {watch.seconds:g} s (timeout_s), so the "
        "connection was severed; nothing was committed"
    )


class PostgresTargetRepository(TargetRepository):
    """``timeout_s`` bounds every operation, a day's whole transaction included (0: no limit)."""

    def __init__(self, engine: sa.Engine, state_schema: str = "qupersync", timeout_s: float = 3600):
        self.engine = engine
        self.state = StateStore(state_schema)
        self.timeout_s = timeout_s
        with self._connection(f"{state_schema}.sync_state", begin=True) as conn:
            self.state.ensure(conn)

    @contextmanager
    def _connection(self, table: str, *, begin: bool = False) -> Iterator[sa.Connection]:
        """A pooled connection (in a transaction with ``begin``); failures become domain errors."""
        watch = None
        try:
            with (
                deadline(self.timeout_s) as watch,
                self.engine.begin() if begin else self.engine.connect() as conn,
            ):
                yield conn
        except Exception as error:
            if watch is not None and watch.expired:
                raise _unanswered(watch, f"table {table!r}") from error
            translated = translate(error, table)
            if translated is error:
                raise
            raise translated from error

    @contextmanager
    def _cursor(self, table: str, *, begin: bool = False) -> Iterator:
        """A psycopg2 cursor on a ``_connection``, for statements composed with ``psycopg2.sql``."""
        with (
            self._connection(table, begin=begin) as conn,
            conn.connection.dbapi_connection.cursor() as cursor,
        ):
            yield cursor

    def describe(self, spec: TableSpec) -> TableSchema | None:
        params = {"schema": spec.target.schema, "table": spec.target.name}
        with self._connection(spec.name) as conn:
            rows = conn.execute(_DESCRIBE, params).all()
            if not rows:
                return None
            primary_key = tuple(conn.execute(_PRIMARY_KEY, params).scalars())
        columns = []
        for row in rows:
            column_type = from_catalog(
                row.data_type,
                row.character_maximum_length,
                row.numeric_precision,
                row.numeric_scale,
            )
            if column_type is None:
                raise ConfigError(
                    f"table {spec.name!r}: target column {row.column_name!r} has type "
                    f"{row.data_type!r}, which QuperSync does not map"
                )
            columns.append(Column(row.column_name, column_type, row.nullable))
        return TableSchema(tuple(columns), primary_key)

    def create_table(self, spec: TableSpec, schema: TableSchema) -> None:
        key = set(spec.primary_key)
        definitions = [
            sql.SQL("{} {}{}").format(
                sql.Identifier(c.name),
                sql.SQL(types.ddl(c.type)),
                sql.SQL(" NOT NULL" if c.name in key or not c.nullable else ""),
            )
            for c in schema.columns
        ]
        if spec.primary_key:
            definitions.append(sql.SQL("PRIMARY KEY ({})").format(_names(spec.primary_key)))
        statements = [
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(spec.target.schema)),
            sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(
                _table(spec), sql.SQL(", ").join(definitions)
            ),
            # Every sync deletes or reconciles by day: keep that a range scan.
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} ({})").format(
                sql.Identifier(f"{spec.target.name}_{spec.partition_column}_idx"[:63]),
                _table(spec),
                sql.Identifier(spec.partition_column),
            ),
        ]
        self._execute(spec, statements)

    def evolve_table(self, spec: TableSpec, added: list[Column], widened: list[Column]) -> None:
        statements = [
            sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}").format(
                _table(spec), sql.Identifier(c.name), sql.SQL(types.ddl(c.type))
            )
            for c in added
        ] + [
            sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE {}").format(
                _table(spec), sql.Identifier(c.name), sql.SQL(types.ddl(c.type))
            )
            for c in widened
        ]
        self._execute(spec, statements)

    def _execute(self, spec: TableSpec, statements: list[sql.Composable]) -> None:
        with self._cursor(spec.name, begin=True) as cursor:
            for statement in statements:
                cursor.execute(statement)

    def stored_states(self, table: str) -> dict[str, SyncWatermark]:
        with self._connection(table) as conn:
            return self.state.load(conn, table)

    def fingerprints(
        self, spec: TableSpec, start: date, end: date, *, float_measure: bool = False
    ) -> dict[date, SourceFingerprint]:
        """The target's own count and measure sum per day, for reconciliation with the source.

        ``float_measure``: the measure is a float column, summed by the source's float rule.
        """
        measure = (
            sql.SQL(
                float_measure_sum("{column}") if float_measure else "CAST(SUM({column}) AS text)"
            ).format(column=sql.Identifier(spec.measure_column))
            if spec.measure_column
            else sql.SQL("NULL")
        )
        query = sql.SQL(
            "SELECT CAST({column} AS date), COUNT(*), {measure} FROM {table} "
            "WHERE {window} GROUP BY 1"
        ).format(
            column=sql.Identifier(spec.partition_column),
            measure=measure,
            table=_table(spec),
            window=_window_predicate(spec),
        )
        with self._cursor(spec.name) as cursor:
            cursor.execute(query, {"start": start, "end": end})
            return {day: SourceFingerprint(count, total) for day, count, total in cursor.fetchall()}

    def key_violations(self, spec: TableSpec, start: date, end: date) -> KeyViolations:
        """NULL and duplicate primary keys among the window's rows (one grouped scan)."""
        keys = [sql.Identifier(k) for k in spec.primary_key]
        any_null = sql.SQL(" OR ").join(sql.SQL("{} IS NULL").format(k) for k in keys)
        query = sql.SQL(
            "SELECT COALESCE(SUM(n), 0), COALESCE(SUM(n) FILTER (WHERE {any_null}), 0),"
            " COUNT(*) FILTER (WHERE n > 1 AND NOT ({any_null})),"
            " COALESCE(SUM(n - 1) FILTER (WHERE n > 1 AND NOT ({any_null})), 0)"
            " FROM (SELECT {keys}, COUNT(*) AS n FROM {table} WHERE {window} GROUP BY {keys}) AS k"
        ).format(
            any_null=any_null,
            keys=sql.SQL(", ").join(keys),
            table=_table(spec),
            window=_window_predicate(spec),
        )
        with self._cursor(spec.name) as cursor:
            cursor.execute(query, {"start": start, "end": end})
            return KeyViolations(*map(int, cursor.fetchone()))

    def preview(
        self, spec: TableSpec, start: date, end: date, limit: int = 10
    ) -> tuple[list[str], list[tuple]]:
        """A few of the window's rows (column names, rows) to show what was synced."""
        query = sql.SQL("SELECT * FROM {} WHERE {} LIMIT %(limit)s").format(
            _table(spec), _window_predicate(spec)
        )
        with self._cursor(spec.name) as cursor:
            cursor.execute(query, {"start": start, "end": end, "limit": limit})
            return [d.name for d in cursor.description], cursor.fetchall()

    @contextmanager
    def partition(
        self, spec: TableSpec, window: PartitionWindow, columns: tuple[str, ...]
    ) -> Iterator[PartitionLoad]:
        watch = None
        try:
            with (
                deadline(self.timeout_s) as watch,
                self.engine.connect() as conn,
                conn.begin() as transaction,
            ):
                try:
                    load = PostgresPartitionLoad(conn, self.state, spec, window, columns)
                    yield load
                except BaseException:
                    # After a cut the rollback on leaving would fail and hide the real error.
                    if not conn.invalidated and conn.connection.dbapi_connection.closed:
                        conn.invalidate()
                    raise
                if not load.committed:
                    transaction.rollback()
        except Exception as error:
            if watch is not None and watch.expired:
                raise _unanswered(watch, f"table {spec.name!r}, partition {window.key}") from error
            translated = translate(error, spec.name, window.key)
            if translated is error:
                raise
            raise translated from error


class PostgresPartitionLoad(PartitionLoad):
    def __init__(
        self,
        conn: sa.Connection,
        state: StateStore,
        spec: TableSpec,
        window: PartitionWindow,
        columns: tuple[str, ...],
    ):
        self.conn = conn
        self.cursor = conn.connection.dbapi_connection.cursor()
        self.state = state
        self.spec = spec
        self.window = window
        self.columns = columns
        self.committed = False
        self._params = {"start": window.start, "end": window.end}
        self.waited_for_lock = not self._lock(wait=False)
        if self.waited_for_lock:
            self._lock(wait=True)

    def _lock(self, *, wait: bool) -> bool:
        function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
        self.cursor.execute(
            sql.SQL("SELECT {}(hashtext(%s), hashtext(%s))").format(sql.Identifier(function)),
            (self.spec.name, self.window.key),
        )
        return wait or bool(self.cursor.fetchone()[0])

    def stored_state(self) -> SyncWatermark | None:
        return self.state.load(self.conn, self.spec.name, self.window.key).get(self.window.key)

    def _copy(self, table: sql.Composable, batches: Iterable[RowBatch]) -> int:
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(table, _names(self.columns))
        reader = BatchReader(batches)
        try:
            self.cursor.copy_expert(statement, reader, size=_COPY_BUFFER)
        except psycopg2.Error:
            # A failing source surfaces here as a cancelled COPY; report the source's error.
            if reader.error is not None:
                raise reader.error from reader.error.__cause__
            raise
        return self.cursor.rowcount

    def _delete_window(self, extra: sql.Composable = _NOTHING) -> int:
        self.cursor.execute(
            sql.SQL("DELETE FROM {} AS t WHERE {}{}").format(
                _table(self.spec), _window_predicate(self.spec), extra
            ),
            self._params,
        )
        return self.cursor.rowcount

    def replace(self, batches: Iterable[RowBatch]) -> LoadCounts:
        """Copy straight into the table, unless a keyed window already holds rows.

        Re-inserting a key deleted in the same transaction makes the unique index visit the dead
        row for every key, which made a restated day slower to write than its first load. A
        keyed window that holds rows is therefore staged and compared by key, and only the rows
        that differ are deleted and inserted; a restatement touches a few percent of a day.
        """
        if self.spec.primary_key and self._window_has_rows():
            return self._replace_differences(self._stage(batches, keyed=True))
        deleted = self._delete_window()
        inserted = self._copy(_table(self.spec), batches)
        return LoadCounts(inserted=inserted, deleted=deleted)

    def _window_has_rows(self) -> bool:
        self.cursor.execute(
            sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE {})").format(
                _table(self.spec), _window_predicate(self.spec)
            ),
            self._params,
        )
        return self.cursor.fetchone()[0]

    def _stage(self, batches: Iterable[RowBatch], *, keyed: bool = False) -> sql.Identifier:
        """COPY the batches into a temporary table (no WAL) dropped at commit.

        A ``keyed`` stage carries the primary key, so a NULL or duplicate key stops the COPY
        with the server's own message naming the column or the key.
        """
        stage = sql.Identifier("qupersync_stage")
        self.cursor.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(stage))
        self.cursor.execute(
            sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
                stage, _names(self.columns), _table(self.spec)
            )
        )
        if keyed:
            self.cursor.execute(
                sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(
                    stage, _names(self.spec.primary_key)
                )
            )
        self._copy(stage, batches)
        return stage

    def _replace_differences(self, stage: sql.Identifier) -> LoadCounts:
        """Make the window equal to ``stage`` by deleting and inserting only differing rows.

        One full join by key finds them: a stored row with no equal staged row goes, a staged row
        with no equal stored row comes (a changed row does both and counts as updated).
        """
        keys = self.spec.primary_key
        others = [c for c in self.columns if c not in keys]
        inexact = self._inexact_columns()
        self.cursor.execute(
            "SELECT set_config('work_mem', %(size)s, true)"
            " WHERE pg_size_bytes(current_setting('work_mem')) < pg_size_bytes(%(size)s)",
            {"size": _DIFF_WORK_MEM},
        )
        diff = sql.Identifier("qupersync_diff")
        self.cursor.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(diff))
        self.cursor.execute(
            sql.SQL(
                "CREATE TEMP TABLE {diff} ON COMMIT DROP AS SELECT t.ctid AS old, s.ctid AS new"
                " FROM (SELECT ctid, {columns} FROM {table} WHERE {window}) AS t"
                " FULL JOIN {stage} AS s ON {matches}"
                " WHERE t.ctid IS NULL OR s.ctid IS NULL OR ({stored}) IS DISTINCT FROM ({staged})"
            ).format(
                diff=diff,
                columns=_names(self.columns),
                table=_table(self.spec),
                window=_window_predicate(self.spec),
                stage=stage,
                matches=sql.SQL(" AND ").join(
                    sql.SQL("s.{0} = t.{0}").format(sql.Identifier(k)) for k in keys
                ),
                stored=_comparable("t", others, inexact),
                staged=_comparable("s", others, inexact),
            ),
            self._params,
        )
        self.cursor.execute(
            sql.SQL(
                "DELETE FROM {} WHERE ctid = ANY (ARRAY(SELECT old FROM {} WHERE old IS NOT NULL))"
            ).format(_table(self.spec), diff)
        )
        self.cursor.execute(
            sql.SQL(
                "INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage}"
                " WHERE ctid = ANY (ARRAY(SELECT new FROM {diff} WHERE new IS NOT NULL))"
            ).format(table=_table(self.spec), columns=_names(self.columns), stage=stage, diff=diff)
        )
        self.cursor.execute(
            sql.SQL(
                "SELECT COUNT(old), COUNT(new),"
                " COUNT(*) FILTER (WHERE old IS NOT NULL AND new IS NOT NULL) FROM {}"
            ).format(diff)
        )
        old, new, updated = self.cursor.fetchone()
        return LoadCounts(inserted=new - updated, updated=updated, deleted=old - updated)

    def _inexact_columns(self) -> set[str]:
        """Columns whose type's equality is not identity: floating point (0 = -0) and
        unconstrained numeric (1.0 = 1.00). Every other type QuperSync creates compares exactly.
        """
        self.cursor.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = CAST(%s AS regclass)"
            " AND attnum > 0 AND NOT attisdropped AND (atttypid IN"
            " (CAST('real' AS regtype), CAST('double precision' AS regtype))"
            " OR (atttypid = CAST('numeric' AS regtype) AND atttypmod = -1))",
            (_table(self.spec).as_string(self.cursor),),
        )
        return {name for (name,) in self.cursor.fetchall()}

    def upsert(self, batches: Iterable[RowBatch], *, full_window: bool) -> LoadCounts:
        stage = self._stage(batches)
        keys = self.spec.primary_key
        self._refuse_null_keys(stage, keys)
        key_list = _names(keys)
        self.cursor.execute(
            sql.SQL("SELECT COUNT(*) - COUNT(DISTINCT ({})) FROM {}").format(
                sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(k)) for k in keys)
                if len(keys) > 1
                else key_list,
                sql.SQL("{} AS s").format(stage),
            )
        )
        duplicates = self.cursor.fetchone()[0]
        inserted, updated = self._merge(stage)
        deleted = 0
        if full_window:
            matches = sql.SQL(" AND ").join(
                sql.SQL("s.{0} = t.{0}").format(sql.Identifier(k)) for k in keys
            )
            deleted = self._delete_window(
                sql.SQL(" AND NOT EXISTS (SELECT 1 FROM {} AS s WHERE {})").format(stage, matches)
            )
        return LoadCounts(inserted, updated, deleted, duplicates)

    def _refuse_null_keys(self, stage: sql.Identifier, keys: tuple[str, ...]) -> None:
        for key in keys:
            self.cursor.execute(
                sql.SQL("SELECT COUNT(*) FROM {} WHERE {} IS NULL").format(
                    stage, sql.Identifier(key)
                )
            )
            nulls = self.cursor.fetchone()[0]
            if nulls:
                raise DataError(
                    self.spec.name,
                    self.window.key,
                    key,
                    "NULL in a primary key column",
                    f"{nulls} row(s)",
                )

    def _merge(self, stage: sql.Identifier) -> tuple[int, int]:
        """One INSERT … ON CONFLICT from the de-duplicated stage; returns (inserted, updated).

        Among rows sharing a key the latest watermark wins, then the greatest row text, so the
        outcome never depends on arrival order. Rows equal to what is stored are not rewritten.
        """
        keys = self.spec.primary_key
        others = [c for c in self.columns if c not in keys]
        order = [sql.SQL("{}").format(sql.Identifier(k)) for k in keys]
        if self.spec.watermark_column:
            order.append(
                sql.SQL("{} DESC NULLS LAST").format(sql.Identifier(self.spec.watermark_column))
            )
        order.append(sql.SQL("CAST(s AS text) DESC"))
        if others:
            action = sql.SQL("DO UPDATE SET {} WHERE ({}) IS DISTINCT FROM ({})").format(
                sql.SQL(", ").join(
                    sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in others
                ),
                sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in others),
                sql.SQL(", ").join(
                    sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in others
                ),
            )
        else:
            action = sql.SQL("DO NOTHING")
        self.cursor.execute(
            sql.SQL(
                "WITH merged AS ("
                " INSERT INTO {table} AS t ({columns})"
                " SELECT DISTINCT ON ({keys}) {columns} FROM {stage} AS s ORDER BY {order}"
                " ON CONFLICT ({keys}) {action}"
                " RETURNING (xmax = 0) AS inserted)"
                " SELECT COUNT(*) FILTER (WHERE inserted), COUNT(*) FILTER (WHERE NOT inserted)"
                " FROM merged"
            ).format(
                table=_table(self.spec),
                columns=_names(self.columns),
                keys=_names(keys),
                stage=stage,
                order=sql.SQL(", ").join(order),
                action=action,
            )
        )
        inserted, updated = self.cursor.fetchone()
        return inserted, updated

    def count_rows(self) -> int:
        self.cursor.execute(
            sql.SQL("SELECT COUNT(*) FROM {} WHERE {}").format(
                _table(self.spec), _window_predicate(self.spec)
            ),
            self._params,
        )
        return self.cursor.fetchone()[0]

    def commit(self, state: SyncWatermark) -> None:
        self.state.save(self.conn, state)
        try:
            self.conn.commit()
        except sa.exc.DBAPIError as error:
            if not isinstance(translate(error, self.spec.name), TargetUnavailableError):
                raise
            raise TargetUnavailableError(
                f"table {self.spec.name!r}, partition {self.window.key}: lost the target "
                "connection while committing; data and sync state were committed together or "
                "not at all, and a retry finds out which"
            ) from error
        self.committed = True
