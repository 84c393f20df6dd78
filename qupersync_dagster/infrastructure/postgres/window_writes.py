"""The three write paths of a day, run on the cursor of the partition's transaction.

``write_strategy`` picks the path; this module only carries each one out. Every statement is
composed from ``sql_fragments``, so identifiers are quoted and the window's bounds are parameters.
"""

from __future__ import annotations

from collections.abc import Iterable

import psycopg2
from psycopg2 import sql

from qupersync_dagster.domain.entities import LoadCounts, PartitionWindow, RowBatch, TableSpec
from qupersync_dagster.domain.errors import DataError
from qupersync_dagster.infrastructure.postgres.copy_stream import BatchReader
from qupersync_dagster.infrastructure.postgres.sql_fragments import (
    NOTHING,
    keys_match,
    names,
    prefixed,
    table,
    window_params,
    window_predicate,
)
from qupersync_dagster.infrastructure.postgres.write_strategy import Strategy

_COPY_BUFFER = 1 << 20
# Comparing a stored day with its new rows hashes the day in memory; the stock 4 MB spills a
# 30,000-row CUR day to disk. Raised for that one transaction, never lowered.
_DIFF_WORK_MEM = "64MB"


def _comparable(alias: str, columns: list[str], as_text: set[str]) -> sql.Composed:
    """``alias``'s ``columns`` for a row comparison that holds only for identical values."""
    return sql.SQL(", ").join(
        sql.SQL("CAST({}.{} AS text)" if c in as_text else "{}.{}").format(
            sql.Identifier(alias), sql.Identifier(c)
        )
        for c in columns
    )


class WindowWriter:
    """Writes ``columns`` of one partition ``window`` of ``spec``'s table through ``cursor``."""

    def __init__(self, cursor, spec: TableSpec, window: PartitionWindow, columns: tuple[str, ...]):
        self.cursor = cursor
        self.spec = spec
        self.window = window
        self.columns = columns
        self._params = window_params(window.start, window.end)

    def write(self, strategy: Strategy, batches: Iterable[RowBatch]) -> LoadCounts:
        if strategy is Strategy.COPY:
            deleted = self._delete_window()
            inserted = self._copy(table(self.spec), batches)
            return LoadCounts(inserted=inserted, deleted=deleted)
        if strategy is Strategy.KEYED_DIFF:
            return self._replace_differences(self._stage(batches, keyed=True))
        return self._upsert(batches, prune=strategy is Strategy.MERGE_AND_PRUNE)

    def window_has_rows(self) -> bool:
        return self._window_scalar("SELECT EXISTS (SELECT 1 FROM {} WHERE {})")

    def count_rows(self) -> int:
        return self._window_scalar("SELECT COUNT(*) FROM {} WHERE {}")

    def _window_scalar(self, template: str):
        self.cursor.execute(
            sql.SQL(template).format(table(self.spec), window_predicate(self.spec)), self._params
        )
        return self.cursor.fetchone()[0]

    def _copy(self, target: sql.Composable, batches: Iterable[RowBatch]) -> int:
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(target, names(self.columns))
        reader = BatchReader(batches)
        try:
            self.cursor.copy_expert(statement, reader, size=_COPY_BUFFER)
        except psycopg2.Error:
            # A failing source surfaces here as a cancelled COPY; report the source's error.
            if reader.error is not None:
                raise reader.error from reader.error.__cause__
            raise
        return self.cursor.rowcount

    def _delete_window(self, extra: sql.Composable = NOTHING) -> int:
        self.cursor.execute(
            sql.SQL("DELETE FROM {} AS t WHERE {}{}").format(
                table(self.spec), window_predicate(self.spec), extra
            ),
            self._params,
        )
        return self.cursor.rowcount

    def _stage(self, batches: Iterable[RowBatch], *, keyed: bool = False) -> sql.Identifier:
        """COPY the batches into a temporary table (no WAL) dropped at commit.

        A ``keyed`` stage carries the primary key, so a NULL or duplicate key stops the COPY
        with the server's own message naming the column or the key.
        """
        stage = sql.Identifier("qupersync_stage")
        self.cursor.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(stage))
        self.cursor.execute(
            sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
                stage, names(self.columns), table(self.spec)
            )
        )
        if keyed:
            self.cursor.execute(
                sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(
                    stage, names(self.spec.primary_key)
                )
            )
        self._copy(stage, batches)
        return stage

    def _replace_differences(self, stage: sql.Identifier) -> LoadCounts:
        """Make the window equal to ``stage`` by deleting and inserting only differing rows.

        One full join by key finds them: a stored row with no equal staged row goes, a staged row
        with no equal stored row comes (a changed row does both and counts as updated).
        """
        others = [c for c in self.columns if c not in self.spec.primary_key]
        inexact = self._inexact_columns()
        self.cursor.execute(
            sql.SQL(
                "SELECT set_config('work_mem', %(size)s, true)"
                " WHERE pg_size_bytes(current_setting('work_mem')) < pg_size_bytes(%(size)s)"
            ),
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
                columns=names(self.columns),
                table=table(self.spec),
                window=window_predicate(self.spec),
                stage=stage,
                matches=keys_match(self.spec.primary_key),
                stored=_comparable("t", others, inexact),
                staged=_comparable("s", others, inexact),
            ),
            self._params,
        )
        self.cursor.execute(
            sql.SQL(
                "DELETE FROM {} WHERE ctid = ANY (ARRAY(SELECT old FROM {} WHERE old IS NOT NULL))"
            ).format(table(self.spec), diff)
        )
        self.cursor.execute(
            sql.SQL(
                "INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage}"
                " WHERE ctid = ANY (ARRAY(SELECT new FROM {diff} WHERE new IS NOT NULL))"
            ).format(table=table(self.spec), columns=names(self.columns), stage=stage, diff=diff)
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
            sql.SQL(
                "SELECT attname FROM pg_attribute WHERE attrelid = CAST(%s AS regclass)"
                " AND attnum > 0 AND NOT attisdropped AND (atttypid IN"
                " (CAST('real' AS regtype), CAST('double precision' AS regtype))"
                " OR (atttypid = CAST('numeric' AS regtype) AND atttypmod = -1))"
            ),
            (table(self.spec).as_string(self.cursor),),
        )
        return {name for (name,) in self.cursor.fetchall()}

    def _upsert(self, batches: Iterable[RowBatch], *, prune: bool) -> LoadCounts:
        """Stage, refuse NULL keys, merge by key; ``prune`` also deletes the keys left out."""
        stage = self._stage(batches)
        keys = self.spec.primary_key
        self._refuse_null_keys(stage, keys)
        self.cursor.execute(
            sql.SQL("SELECT COUNT(*) - COUNT(DISTINCT ({})) FROM {}").format(
                prefixed("s", keys) if len(keys) > 1 else names(keys),
                sql.SQL("{} AS s").format(stage),
            )
        )
        duplicates = self.cursor.fetchone()[0]
        inserted, updated = self._merge(stage)
        deleted = 0
        if prune:
            deleted = self._delete_window(
                sql.SQL(" AND NOT EXISTS (SELECT 1 FROM {} AS s WHERE {})").format(
                    stage, keys_match(keys)
                )
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
        order: list[sql.Composable] = [sql.Identifier(k) for k in keys]
        if self.spec.watermark_column:
            order.append(
                sql.SQL("{} DESC NULLS LAST").format(sql.Identifier(self.spec.watermark_column))
            )
        order.append(sql.SQL("CAST(s AS text) DESC"))
        action: sql.Composable
        if others:
            action = sql.SQL("DO UPDATE SET {} WHERE ({}) IS DISTINCT FROM ({})").format(
                sql.SQL(", ").join(
                    sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in others
                ),
                prefixed("t", others),
                prefixed("EXCLUDED", others),
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
                table=table(self.spec),
                columns=names(self.columns),
                keys=names(keys),
                stage=stage,
                order=sql.SQL(", ").join(order),
                action=action,
            )
        )
        inserted, updated = self.cursor.fetchone()
        return inserted, updated
