"""One day's transaction on the target: lock, stored state, the write, and the commit.

The rows are written by ``window_writes`` along the path ``write_strategy`` picks; this module
holds what makes the day atomic: the advisory lock on (table, partition), the sync state read and
written in the same transaction, and what a lost connection during COMMIT means.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from psycopg2 import sql

from qupersync_dagster.domain.entities import (
    LoadCounts,
    PartitionWindow,
    RowBatch,
    SourceFingerprint,
    SyncMode,
    SyncWatermark,
    TableSpec,
)
from qupersync_dagster.domain.errors import TargetUnavailableError
from qupersync_dagster.domain.repositories import PartitionLoad
from qupersync_dagster.infrastructure.postgres import write_strategy
from qupersync_dagster.infrastructure.postgres.errors import translate
from qupersync_dagster.infrastructure.postgres.fingerprints import fingerprints_by_day
from qupersync_dagster.infrastructure.postgres.guard import driver_connection, one_row
from qupersync_dagster.infrastructure.postgres.state_store import StateStore
from qupersync_dagster.infrastructure.postgres.window_writes import WindowWriter


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
        self.cursor = driver_connection(conn).cursor()
        self.state = state
        self.spec = spec
        self.window = window
        self.committed = False
        self.rows = WindowWriter(self.cursor, spec, window, columns)
        self.waited_for_lock = not self._lock(wait=False)
        if self.waited_for_lock:
            self._lock(wait=True)

    def _lock(self, *, wait: bool) -> bool:
        function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
        self.cursor.execute(
            sql.SQL("SELECT {}(hashtext(%s), hashtext(%s))").format(sql.Identifier(function)),
            (self.spec.name, self.window.key),
        )
        return wait or bool(one_row(self.cursor)[0])

    def stored_state(self) -> SyncWatermark | None:
        return self.state.load(self.conn, self.spec.name, self.window.key).get(self.window.key)

    def replace(self, batches: Iterable[RowBatch]) -> LoadCounts:
        return self._write(SyncMode.REPLACE, batches, full_window=True)

    def upsert(self, batches: Iterable[RowBatch], *, full_window: bool) -> LoadCounts:
        return self._write(SyncMode.UPSERT, batches, full_window=full_window)

    def _write(
        self, mode: SyncMode, batches: Iterable[RowBatch], *, full_window: bool
    ) -> LoadCounts:
        strategy = write_strategy.choose(
            mode,
            keyed=bool(self.spec.primary_key),
            full_window=full_window,
            window_has_rows=self.rows.window_has_rows,
        )
        return self.rows.write(strategy, batches)

    def count_rows(self) -> int:
        return self.rows.count_rows()

    def fingerprint(self) -> SourceFingerprint:
        window = self.window
        found = fingerprints_by_day(self.cursor, self.spec, window.start, window.end)
        return found.get(window.start, SourceFingerprint(0))

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
