"""The sync state table: one row per (table, partition), written with the partition's data.

It lives in the target database (schema ``qupersync`` by default) precisely so that it can share
the data's transaction: after a crash, data and state are both old or both new.

The one part of the target written with SQLAlchemy Core rather than ``psycopg2.sql``: the table
is declared once as an ``sa.Table``, and its DDL, typed reads and upsert all derive from that.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from qupersync_dagster.domain.entities import SourceFingerprint, SyncWatermark

STATE_COLUMNS = (
    sa.Column("table_name", sa.Text, primary_key=True),
    sa.Column("partition_key", sa.Text, primary_key=True),
    sa.Column("row_count", sa.BigInteger, nullable=False),
    sa.Column("measure_sum", sa.Text),  # decimal text, compared exactly
    sa.Column("max_watermark", sa.Text),
    sa.Column("schema_signature", sa.Text, nullable=False),
    sa.Column("watermark", sa.Text),
    sa.Column("rows_extracted", sa.BigInteger, nullable=False),
    sa.Column("rows_inserted", sa.BigInteger, nullable=False),
    sa.Column("rows_updated", sa.BigInteger, nullable=False),
    sa.Column("rows_deleted", sa.BigInteger, nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
)

# Serialises the one-time creation of the state schema between concurrent first runs.
_CREATE_LOCK_KEY = 0x51_5359_4E43


class StateStore:
    def __init__(self, schema: str):
        self.schema = schema
        self.table = sa.Table(
            "sync_state", sa.MetaData(schema=schema), *(c._copy() for c in STATE_COLUMNS)
        )

    def ensure(self, conn: sa.Connection) -> None:
        # Text: Core has no statement form for a bare function call without adding a label.
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CREATE_LOCK_KEY})
        conn.execute(sa.schema.CreateSchema(self.schema, if_not_exists=True))
        self.table.create(conn, checkfirst=True)

    def load(self, conn: sa.Connection, table: str, partition: str | None = None):
        query = sa.select(self.table).where(self.table.c.table_name == table)
        if partition is not None:
            query = query.where(self.table.c.partition_key == partition)
        return {row.partition_key: _to_state(row) for row in conn.execute(query)}

    def save(self, conn: sa.Connection, state: SyncWatermark) -> None:
        values = {
            "table_name": state.table,
            "partition_key": state.partition,
            "row_count": state.fingerprint.row_count,
            "measure_sum": state.fingerprint.measure_sum,
            "max_watermark": state.fingerprint.max_watermark,
            "schema_signature": state.fingerprint.schema_signature,
            "watermark": state.watermark,
            "rows_extracted": state.rows_extracted,
            "rows_inserted": state.rows_inserted,
            "rows_updated": state.rows_updated,
            "rows_deleted": state.rows_deleted,
            "finished_at": state.finished_at,
        }
        statement = insert(self.table).values(values)
        keys = ("table_name", "partition_key")
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=keys,
                set_={k: statement.excluded[k] for k in values if k not in keys},
            )
        )


def _to_state(row) -> SyncWatermark:
    return SyncWatermark(
        table=row.table_name,
        partition=row.partition_key,
        fingerprint=SourceFingerprint(
            row_count=row.row_count,
            measure_sum=row.measure_sum,
            max_watermark=row.max_watermark,
            schema_signature=row.schema_signature,
        ),
        watermark=row.watermark,
        rows_extracted=row.rows_extracted,
        rows_inserted=row.rows_inserted,
        rows_updated=row.rows_updated,
        rows_deleted=row.rows_deleted,
        finished_at=row.finished_at,
    )
