"""Sources ``information_schema`` does not list, as Redshift has them: for tests and the demo.

On Redshift, ``information_schema.columns`` omits late-binding views (``WITH NO SCHEMA
BINDING``) and Spectrum external tables, while ``SVV_ALL_COLUMNS`` / ``SVV_EXTERNAL_COLUMNS``
describe them. PostgreSQL lists every table and view there, except one kind of relation: a
materialized view. So both stand-ins are materialized views -- read like any table, absent from
``information_schema`` -- holding their query's rows as of creation or the last ``refresh``.
An external table lives in a schema registered as external, which ``SVV_EXTERNAL_COLUMNS``
lists with Spectrum's type names.

Every helper takes an open psycopg2 connection to the source database (not through the
emulator), installs the compat schema if needed, and commits.
"""

from __future__ import annotations

from psycopg2 import sql

from qupersync_dagster.devkit.redshift_emulator import compat


def create_late_binding_view(conn, schema: str, name: str, query: str) -> None:
    """``schema.name`` showing ``query``'s rows, like a view created WITH NO SCHEMA BINDING."""
    _create(conn, schema, name, query)


def create_external_table(conn, schema: str, name: str, query: str) -> None:
    """``schema.name`` as a Spectrum external table holding ``query``'s rows."""
    _create(conn, schema, name, query)
    with conn, conn.cursor() as cur:
        cur.execute(
            sql.SQL("INSERT INTO {}.external_schemas VALUES (%s) ON CONFLICT DO NOTHING").format(
                sql.Identifier(compat.COMPAT_SCHEMA)
            ),
            (schema,),
        )


def refresh(conn, schema: str, name: str) -> None:
    """Show the current rows of a stand-in's query (after its underlying table changed)."""
    with conn, conn.cursor() as cur:
        cur.execute(
            sql.SQL("REFRESH MATERIALIZED VIEW {}.{}").format(
                sql.Identifier(schema), sql.Identifier(name)
            )
        )


def _create(conn, schema: str, name: str, query: str) -> None:
    compat.install(conn)
    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        cur.execute(
            sql.SQL("CREATE MATERIALIZED VIEW {}.{} AS ").format(
                sql.Identifier(schema), sql.Identifier(name)
            )
            + sql.SQL(query)
        )
