"""The read-only statements ``qupersync doctor`` sends to Redshift, apart from the sync's own.

Written to the Amazon Redshift SQL reference. ``HAS_SCHEMA_PRIVILEGE`` and ``HAS_TABLE_PRIVILEGE``
are leader-node functions that fail in a statement that also reads a table or a system view
(STV/SVV), so each privilege is asked in a statement of its own. ``SVV_ALL_COLUMNS`` lists local
tables, late-binding views and Spectrum external tables alike, which ``information_schema`` does
not; the cluster's node count is the sync's own question (``sql.NODE_COUNT``).
"""

from __future__ import annotations

from qupersync_dagster.domain.entities import RedshiftQuery, TableRef
from qupersync_dagster.infrastructure.redshift.sql import table_name


def catalogue_columns(database: str, ref: TableRef) -> RedshiftQuery:
    """How many columns the catalogue shows this user for ``ref`` (0: the table is invisible)."""
    return RedshiftQuery(
        "SELECT COUNT(*) FROM svv_all_columns"
        " WHERE database_name = %s AND schema_name = %s AND table_name = %s",
        (database, ref.schema, ref.name),
    )


def external_columns(ref: TableRef) -> RedshiftQuery:
    """Columns of ``ref`` as a Spectrum external table (some clusters omit those above)."""
    return RedshiftQuery(
        "SELECT COUNT(*) FROM svv_external_columns WHERE schemaname = %s AND tablename = %s",
        (ref.schema, ref.name),
    )


def schema_privilege(schema: str, privilege: str) -> RedshiftQuery:
    """Whether the current user holds ``privilege`` (USAGE, CREATE) on ``schema``."""
    return RedshiftQuery("SELECT HAS_SCHEMA_PRIVILEGE(%s, %s)", (schema, privilege))


def table_privilege(ref: TableRef, privilege: str) -> RedshiftQuery:
    """Whether the current user holds ``privilege`` (SELECT, ...) on ``ref`` (quoted name)."""
    return RedshiftQuery("SELECT HAS_TABLE_PRIVILEGE(%s, %s)", (table_name(ref), privilege))
