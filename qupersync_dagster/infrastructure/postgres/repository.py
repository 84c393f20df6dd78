"""The PostgreSQL mirror as the sync engine drives it: the ``TargetRepository`` adapter.

It only assembles the parts, each in a module of its own: the guarded connection (``guard``), the
table's DDL and catalogue reads (``schema``), a day's transaction (``partition_load``, writing
through ``window_writes`` along the path ``write_strategy`` picks) and the sync state
(``state_store``). The checks read the mirror through ``read_model`` instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from qupersync_dagster.domain.entities import (
    Column,
    PartitionWindow,
    SyncWatermark,
    TableSchema,
    TableSpec,
)
from qupersync_dagster.domain.repositories import PartitionLoad, TargetRepository
from qupersync_dagster.infrastructure.postgres import schema as table_schema
from qupersync_dagster.infrastructure.postgres.guard import GuardedEngine, driver_connection
from qupersync_dagster.infrastructure.postgres.partition_load import PostgresPartitionLoad
from qupersync_dagster.infrastructure.postgres.state_store import StateStore


class PostgresTargetRepository(TargetRepository):
    """``timeout_s`` bounds every operation, a day's whole transaction included (0: no limit)."""

    def __init__(self, engine: sa.Engine, state_schema: str = "qupersync", timeout_s: float = 3600):
        self.state = StateStore(state_schema)
        self.target = GuardedEngine(engine, timeout_s)
        with self.target.connection(f"{state_schema}.sync_state", begin=True) as conn:
            self.state.ensure(conn)

    def describe(self, spec: TableSpec) -> TableSchema | None:
        return table_schema.describe(self.target, spec)

    def create_table(self, spec: TableSpec, schema: TableSchema) -> None:
        table_schema.create_table(self.target, spec, schema)

    def evolve_table(self, spec: TableSpec, added: list[Column], widened: list[Column]) -> None:
        table_schema.evolve_table(self.target, spec, added, widened)

    def stored_states(self, table: str) -> dict[str, SyncWatermark]:
        with self.target.connection(table) as conn:
            return self.state.load(conn, table)

    @contextmanager
    def partition(
        self, spec: TableSpec, window: PartitionWindow, columns: tuple[str, ...]
    ) -> Iterator[PartitionLoad]:
        with (
            self.target.guard(spec.name, window.key),
            self.target.engine.connect() as conn,
            conn.begin() as transaction,
        ):
            try:
                load = PostgresPartitionLoad(conn, self.state, spec, window, columns)
                yield load
            except BaseException:
                # After a cut the rollback on leaving would fail and hide the real error.
                if not conn.invalidated and driver_connection(conn).closed:
                    conn.invalidate()
                raise
            if not load.committed:
                transaction.rollback()
