"""What ``qupersync doctor`` asks the target: may this user create, own and write what a sync will.

Built on the read model, so a table is described exactly as pre-flight describes it, through the
same guard, and without creating the sync state table as the repository's constructor does: the
doctor writes nothing, and every statement here only reads the catalogue.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import sqlalchemy as sa

from qupersync_dagster.domain.entities import TableRef
from qupersync_dagster.infrastructure.postgres.read_model import PostgresReadModel

_SCHEMA = (
    "SELECT has_schema_privilege(n.oid, 'CREATE') FROM pg_namespace n WHERE n.nspname = %(schema)s"
)
_DATABASE = "SELECT has_database_privilege(current_database(), 'CREATE')"
_TABLE = """
    SELECT pg_has_role(c.relowner, 'USAGE') AS owned,
           -- A comma list asks for any of the privileges; a sync needs them all.
           has_table_privilege(c.oid, 'SELECT') AND has_table_privilege(c.oid, 'INSERT')
           AND has_table_privilege(c.oid, 'UPDATE') AND has_table_privilege(c.oid, 'DELETE')
           AS writable
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = %(schema)s AND c.relname = %(table)s
"""


class TableAccess(NamedTuple):
    owned: bool  # owner (or member of the owning role): may ALTER TABLE to evolve it
    writable: bool  # may SELECT, INSERT, UPDATE and DELETE its rows


class PostgresDiagnostics(PostgresReadModel):
    """Read-only: ``describe`` as pre-flight does it, and the current user's rights."""

    @property
    def engine(self) -> sa.Engine:
        return self.target.engine

    def _row(self, statement: str, what: str, **params: Any) -> tuple[Any, ...] | None:
        with self.target.cursor(what) as cursor:
            cursor.execute(statement, params)
            row: tuple[Any, ...] | None = cursor.fetchone()
            return row

    def schema_creatable_in(self, schema: str) -> bool | None:
        """CREATE on ``schema``; None when the schema does not exist."""
        row = self._row(_SCHEMA, f"schema {schema}", schema=schema)
        return None if row is None else bool(row[0])

    def database_creatable(self) -> bool:
        """CREATE on the database: needed to create a schema that does not exist yet."""
        row = self._row(_DATABASE, "the target database")
        return bool(row and row[0])

    def table_access(self, table: TableRef) -> TableAccess | None:
        """This user's rights on ``table``; None when the table does not exist."""
        row = self._row(_TABLE, str(table), schema=table.schema, table=table.name)
        return None if row is None else TableAccess(bool(row[0]), bool(row[1]))
