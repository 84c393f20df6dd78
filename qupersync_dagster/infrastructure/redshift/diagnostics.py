"""What ``qupersync doctor`` asks the cluster: its shape, the catalogue and this user's grants.

The source repository itself answers the rest (describe, fingerprints), so its connection, its
session settings and its error translation are the ones a sync would meet. Every question here
runs in a transaction that is rolled back; nothing is written.
"""

from __future__ import annotations

from qupersync_dagster.domain.entities import RedshiftQuery, TableRef
from qupersync_dagster.infrastructure.redshift import diagnostics_sql, sql
from qupersync_dagster.infrastructure.redshift.repository import RedshiftSourceRepository


def _true(value) -> bool:
    """A privilege function's answer: BOOLEAN, or CHAR/VARCHAR text as Redshift documents."""
    return value is True or str(value).strip().lower() in ("t", "true", "1")


class RedshiftDiagnostics(RedshiftSourceRepository):
    """The source repository, plus the questions only a pre-flight asks."""

    def _value(self, query, what: str):
        return self._query(query, what)[0][0]

    def node_count(self) -> int:
        """Nodes holding slices; 1 on a single-node cluster, 0 when the view shows none."""
        return int(self._value(RedshiftQuery(sql.NODE_COUNT), "reading STV_SLICES"))

    def catalogue_columns(self, database: str, table: TableRef) -> int:
        """Columns the catalogue shows this user: SVV_ALL_COLUMNS, else SVV_EXTERNAL_COLUMNS."""
        what = f"looking up {table} in the catalogue"
        return int(self._value(diagnostics_sql.catalogue_columns(database, table), what)) or int(
            self._value(diagnostics_sql.external_columns(table), what)
        )

    def has_schema_usage(self, schema: str) -> bool:
        query = diagnostics_sql.schema_privilege(schema, "USAGE")
        return _true(self._value(query, f"checking USAGE on schema {schema}"))

    def can_select(self, table: TableRef) -> bool:
        query = diagnostics_sql.table_privilege(table, "SELECT")
        return _true(self._value(query, f"checking SELECT on {table}"))
