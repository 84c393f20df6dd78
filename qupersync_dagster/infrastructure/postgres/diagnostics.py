"""What ``qupersync doctor`` asks the target: may this user create, own and write what a sync will.

Built on the target repository so a table is described exactly as pre-flight describes it, but
opened without creating the sync state table (the repository's constructor would): the doctor
writes nothing, and every statement here only reads the catalogue.
"""

from __future__ import annotations

from typing import NamedTuple

import sqlalchemy as sa

from qupersync_dagster.domain.entities import TableRef
from qupersync_dagster.infrastructure.postgres.repository import PostgresTargetRepository

_SCHEMA = sa.text(
    "SELECT has_schema_privilege(n.oid, 'CREATE') FROM pg_namespace n WHERE n.nspname = :schema"
)
_DATABASE = sa.text("SELECT has_database_privilege(current_database(), 'CREATE')")
_TABLE = sa.text(
    """
    SELECT pg_has_role(c.relowner, 'USAGE') AS owned,
           -- A comma list asks for any of the privileges; a sync needs them all.
           has_table_privilege(c.oid, 'SELECT') AND has_table_privilege(c.oid, 'INSERT')
           AND has_table_privilege(c.oid, 'UPDATE') AND has_table_privilege(c.oid, 'DELETE')
           AS writable
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = :schema AND c.relname = :table
    """
)


class TableAccess(NamedTuple):
    owned: bool  # owner (or member of the owning role): may ALTER TABLE to evolve it
    writable: bool  # may SELECT, INSERT, UPDATE and DELETE its rows


class PostgresDiagnostics(PostgresTargetRepository):
    """Read-only: ``describe`` as the repository does it, and the current user's rights."""

    def __init__(self, engine: sa.Engine, state_schema: str = "qupersync", timeout_s: float = 60):
        # Deliberately not the repository's constructor, which creates the sync state table.
        self.engine = engine
        self.state_schema = state_schema
        self.timeout_s = timeout_s

    def _scalar(self, statement: sa.TextClause, what: str, **params):
        with self._connection(what) as conn:
            return conn.execute(statement, params).scalar()

    def schema_creatable_in(self, schema: str) -> bool | None:
        """CREATE on ``schema``; None when the schema does not exist."""
        return self._scalar(_SCHEMA, f"schema {schema}", schema=schema)

    def database_creatable(self) -> bool:
        """CREATE on the database: needed to create a schema that does not exist yet."""
        return bool(self._scalar(_DATABASE, "the target database"))

    def table_access(self, table: TableRef) -> TableAccess | None:
        """This user's rights on ``table``; None when the table does not exist."""
        params = {"schema": table.schema, "table": table.name}
        with self._connection(str(table)) as conn:
            row = conn.execute(_TABLE, params).one_or_none()
        return None if row is None else TableAccess(row.owned, row.writable)
