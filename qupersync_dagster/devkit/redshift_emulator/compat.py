"""The Redshift catalogue and functions a strict emulator session sees, built in PostgreSQL.

Redshift describes tables in ``SVV_ALL_COLUMNS`` / ``SVV_EXTERNAL_COLUMNS`` (with its own type
names), reports its nodes in ``STV_SLICES``, and returns CHAR from ``CHR()``; PostgreSQL has none
of those views and returns text. The emulator installs them in one schema, ``redshift_compat``,
once per database, and puts that schema on every strict session's ``search_path`` just before
``pg_catalog`` so that its ``chr`` shadows the built-in one.

The schema also holds the guards the emulator writes into statements: ``refuse`` raises the
error of a refused statement on the server (so the transaction aborts as on a real error), and
``declare_cursor`` / ``cursor_result_within`` enforce Redshift's cursor rules.

``json``/``jsonb`` columns stand in for SUPER: the catalogue views call them ``super``.
"""

from __future__ import annotations

COMPAT_SCHEMA = "redshift_compat"
COMPAT_VIEWS = frozenset(
    {"svv_all_columns", "svv_external_columns", "svv_all_tables", "svv_tables", "stv_slices"}
)
# Session setting (a startup parameter) telling STV_SLICES how many nodes the cluster has.
NODES_SETTING = f"{COMPAT_SCHEMA}.nodes"
# Slices of each node: STV_SLICES lists them, and UNLOAD writes a file series for each.
SLICES_PER_NODE = 2
MAX_VARCHAR_BYTES = 65_535
_MARKER = "QuperSync Redshift emulator compat schema, version 3"
_LOCK_KEY = 0x5153_5243  # serializes installers racing on one database

_DEFAULTS = "LEFT JOIN pg_catalog.pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"


def _columns_of_visible_relations(join: str = "") -> str:
    """FROM and WHERE over the columns of user relations the session may see."""
    return f"""
    FROM pg_catalog.pg_attribute AS a
    JOIN pg_catalog.pg_class AS c ON c.oid = a.attrelid
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    JOIN pg_catalog.pg_type AS t ON t.oid = a.atttypid
    {join}
    WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'v', 'm', 'f', 'p')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema', '{COMPAT_SCHEMA}')
      AND n.nspname NOT LIKE 'pg\\_%'
      AND (pg_catalog.pg_has_role(c.relowner, 'USAGE')
           OR pg_catalog.has_any_column_privilege(c.oid, 'SELECT, INSERT, UPDATE, REFERENCES'))
"""


_LENGTH = "information_schema._pg_char_max_length(a.atttypid, a.atttypmod)"
_PRECISION = "information_schema._pg_numeric_precision(a.atttypid, a.atttypmod)"
_SCALE = "information_schema._pg_numeric_scale(a.atttypid, a.atttypmod)"
_EXTERNAL = f"n.nspname IN (SELECT schema_name FROM {COMPAT_SCHEMA}.external_schemas)"

_DDL = f"""
CREATE SCHEMA IF NOT EXISTS {COMPAT_SCHEMA};
GRANT USAGE ON SCHEMA {COMPAT_SCHEMA} TO PUBLIC;
CREATE TABLE IF NOT EXISTS {COMPAT_SCHEMA}.external_schemas (schema_name name PRIMARY KEY);
GRANT SELECT ON {COMPAT_SCHEMA}.external_schemas TO PUBLIC;

CREATE OR REPLACE FUNCTION {COMPAT_SCHEMA}.refuse(sqlstate text, message text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = sqlstate, MESSAGE = message;
END $$;

-- IMMUTABLE with a constant argument: the planner runs it while DECLARE plans its query, so a
-- second open cursor fails at DECLARE, as on Redshift. Names of the session's DECLAREd cursors
-- live in a session setting: protocol-level portals also appear in pg_cursors.
CREATE OR REPLACE FUNCTION {COMPAT_SCHEMA}.declare_cursor(cursor_name text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    declared text[] := coalesce(
        nullif(current_setting('{COMPAT_SCHEMA}.cursors', true), ''), '{{}}')::text[];
    still_open text[];
BEGIN
    SELECT coalesce(array_agg(name), '{{}}') INTO still_open
      FROM pg_catalog.pg_cursors WHERE name = ANY (declared) AND name <> cursor_name;
    IF cardinality(still_open) > 0 THEN
        RAISE EXCEPTION USING ERRCODE = '0A000', MESSAGE = format(
            'cannot declare cursor "%s": cursor "%s" is still open, and Amazon Redshift allows '
            'one open cursor per session', cursor_name, still_open[1]);
    END IF;
    PERFORM set_config('{COMPAT_SCHEMA}.cursors', array_append(still_open, cursor_name)::text,
                       false);
    RETURN true;
END $$;

CREATE OR REPLACE FUNCTION {COMPAT_SCHEMA}.cursor_result_within(result_bytes numeric, cap bigint)
RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF result_bytes > cap THEN
        RAISE EXCEPTION USING ERRCODE = 'XX000', MESSAGE = format(
            'Cursor result set size %s bytes exceeds the maximum cursor result set size of %s '
            'bytes for this cluster', result_bytes, cap);
    END IF;
    RETURN true;
END $$;

CREATE OR REPLACE FUNCTION {COMPAT_SCHEMA}.chr(integer) RETURNS character
LANGUAGE sql IMMUTABLE STRICT AS 'SELECT pg_catalog.chr($1)::character';

CREATE OR REPLACE FUNCTION {COMPAT_SCHEMA}.json_size(value jsonb) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT AS 'SELECT pg_catalog.octet_length(value::text)';
CREATE OR REPLACE FUNCTION {COMPAT_SCHEMA}.json_size(value json) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT AS 'SELECT pg_catalog.octet_length(value::text)';

CREATE OR REPLACE FUNCTION {COMPAT_SCHEMA}.json_too_long(bytes integer) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = '22001', MESSAGE = format(
        'JSON_SERIALIZE: the serialized SUPER value is %s bytes, over the VARCHAR limit of '
        '{MAX_VARCHAR_BYTES} bytes', bytes);
END $$;
-- Plain SQL (not PL/pgSQL, not STRICT, calling nothing that is), so the planner inlines each into
-- a cursor's query: a length test per value instead of a function call, CPU a cluster spends on
-- its own nodes. A STRICT SQL function whose body calls a function that is not is never inlined;
-- it would start an executor for every value. NULL gives NULL all the same.
CREATE OR REPLACE FUNCTION {COMPAT_SCHEMA}.json_serialize(value text) RETURNS varchar
LANGUAGE sql IMMUTABLE AS $$
SELECT CASE WHEN pg_catalog.octet_length(value) > {MAX_VARCHAR_BYTES}
            THEN {COMPAT_SCHEMA}.json_too_long(pg_catalog.octet_length(value))
            ELSE value END::varchar
$$;
CREATE OR REPLACE FUNCTION {COMPAT_SCHEMA}.json_serialize(value jsonb) RETURNS varchar
LANGUAGE sql IMMUTABLE AS 'SELECT {COMPAT_SCHEMA}.json_serialize(value::text)';
CREATE OR REPLACE FUNCTION {COMPAT_SCHEMA}.json_serialize(value json) RETURNS varchar
LANGUAGE sql IMMUTABLE AS 'SELECT {COMPAT_SCHEMA}.json_serialize(value::text)';

CREATE OR REPLACE VIEW {COMPAT_SCHEMA}.svv_all_columns AS
SELECT pg_catalog.current_database()::varchar(128) AS database_name,
       n.nspname::varchar(128) AS schema_name,
       c.relname::varchar(128) AS table_name,
       a.attname::varchar(128) AS column_name,
       a.attnum::integer AS ordinal_position,
       pg_catalog.pg_get_expr(d.adbin, d.adrelid)::varchar(4000) AS column_default,
       (CASE WHEN a.attnotnull THEN 'NO' ELSE 'YES' END)::varchar(3) AS is_nullable,
       (CASE WHEN t.typname IN ('json', 'jsonb') THEN 'super'
             ELSE pg_catalog.format_type(a.atttypid, NULL) END)::varchar(128) AS data_type,
       {_LENGTH}::integer AS character_maximum_length,
       {_PRECISION}::integer AS numeric_precision,
       {_SCALE}::integer AS numeric_scale,
       pg_catalog.col_description(c.oid, a.attnum)::varchar(256) AS remarks
{_columns_of_visible_relations(_DEFAULTS)};

CREATE OR REPLACE VIEW {COMPAT_SCHEMA}.svv_external_columns AS
SELECT pg_catalog.current_database()::text AS redshift_database_name,
       n.nspname::text AS schemaname,
       c.relname::text AS tablename,
       a.attname::text AS columnname,
       (CASE t.typname
            WHEN 'int2' THEN 'smallint' WHEN 'int4' THEN 'int' WHEN 'int8' THEN 'bigint'
            WHEN 'float4' THEN 'float' WHEN 'float8' THEN 'double' WHEN 'bool' THEN 'boolean'
            WHEN 'date' THEN 'date' WHEN 'timestamp' THEN 'timestamp'
            WHEN 'timestamptz' THEN 'timestamp' WHEN 'text' THEN 'string'
            WHEN 'json' THEN 'map<string,string>' WHEN 'jsonb' THEN 'map<string,string>'
            WHEN 'numeric' THEN 'decimal(' || {_PRECISION} || ',' || {_SCALE} || ')'
            WHEN 'varchar' THEN coalesce('varchar(' || {_LENGTH} || ')', 'string')
            WHEN 'bpchar' THEN 'char(' || {_LENGTH} || ')'
            ELSE pg_catalog.format_type(a.atttypid, NULL) END)::text AS external_type,
       a.attnum::integer AS columnnum,
       0 AS part_key,
       (CASE WHEN a.attnotnull THEN 'false' ELSE 'true' END)::text AS is_nullable
{_columns_of_visible_relations()} AND {_EXTERNAL};

CREATE OR REPLACE VIEW {COMPAT_SCHEMA}.svv_all_tables AS
SELECT pg_catalog.current_database()::varchar(128) AS database_name,
       n.nspname::varchar(128) AS schema_name,
       c.relname::varchar(128) AS table_name,
       (CASE WHEN {_EXTERNAL} THEN 'EXTERNAL TABLE'
             WHEN c.relkind IN ('v', 'm') THEN 'VIEW' ELSE 'TABLE' END)::varchar(128)
           AS table_type,
       NULL::varchar(128) AS table_acl,
       pg_catalog.obj_description(c.oid, 'pg_class')::varchar(256) AS remarks
{_columns_of_visible_relations()} AND a.attnum = 1;

CREATE OR REPLACE VIEW {COMPAT_SCHEMA}.svv_tables AS
SELECT database_name::text AS table_catalog, schema_name::text AS table_schema,
       table_name::text, table_type::text, remarks::text
FROM {COMPAT_SCHEMA}.svv_all_tables;

CREATE OR REPLACE VIEW {COMPAT_SCHEMA}.stv_slices AS
SELECT node, node * {SLICES_PER_NODE} + local AS slice, local AS localslice,
       'D'::character(1) AS type
FROM pg_catalog.generate_series(
         0, coalesce(nullif(current_setting('{NODES_SETTING}', true), ''), '1')::integer - 1
     ) AS node,
     pg_catalog.generate_series(0, {SLICES_PER_NODE - 1}) AS local;

GRANT SELECT ON ALL TABLES IN SCHEMA {COMPAT_SCHEMA} TO PUBLIC;
COMMENT ON SCHEMA {COMPAT_SCHEMA} IS '{_MARKER}';
"""


def install(conn) -> None:
    """Create (or bring up to date) the compat schema in ``conn``'s database; commits."""
    with conn, conn.cursor() as cur:
        cur.execute("SELECT pg_catalog.pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        cur.execute(
            "SELECT pg_catalog.obj_description(oid, 'pg_namespace')"
            " FROM pg_catalog.pg_namespace WHERE nspname = %s",
            (COMPAT_SCHEMA,),
        )
        row = cur.fetchone()
        if row is None or row[0] != _MARKER:
            cur.execute(_DDL)
