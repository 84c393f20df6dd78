"""Every statement QuperSync sends to Redshift, in one place.

Written to the Amazon Redshift SQL reference, not to PostgreSQL's: a cursor is DECLAREd inside a
transaction and read with ``FETCH FORWARD n``; booleans cannot be CAST to VARCHAR. How a row is
rendered into COPY text on the cluster is ``row_text``'s job; the statements are all here.

Every setting that shapes rendered text (date style, float digits, time zone) is pinned on each
session (``session_setup``): a user or parameter group default must not change what arrives.

Catalogue and fingerprint queries bind their values as parameters. Redshift does not document
bind parameters inside DECLARE, so the cursor's query carries its values as typed literals, and
only values that pass a strict date, timestamp or integer pattern are ever rendered.

A day too large for a cursor is UNLOADed instead (``unload``): the same select, quoted into the
statement, written by every slice to S3 as gzip text files with a manifest.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from qupersync_dagster.domain.entities import (
    ColumnType,
    PartitionWindow,
    RedshiftQuery,
    TableRef,
    TableSchema,
    TableSpec,
    TypeKind,
)
from qupersync_dagster.domain.errors import ConfigError
from qupersync_dagster.infrastructure.float_sql import float_measure_sum, has_float_measure
from qupersync_dagster.infrastructure.redshift.names import identifier, table_name
from qupersync_dagster.infrastructure.redshift.row_text import RowLayout, select_list

CURSOR = "qupersync_rows"
SINGLE_NODE_FETCH_LIMIT = 1000
# What each source session pins: the text the cluster renders depends on all of them.
PINNED_SETTINGS = (
    ("datestyle", "'ISO, MDY'"),
    ("extra_float_digits", "2"),
    ("timezone", "'UTC'"),
)


_INTEGER = {TypeKind.SMALLINT, TypeKind.INTEGER, TypeKind.BIGINT}
_TIMESTAMP_LITERAL = re.compile(
    r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2}(\.\d{1,6})?)?([+-]\d{2}(:?\d{2})?)?$"
)


def session_setup(statement_timeout_ms: int) -> list[str]:
    pinned = [f"SET {name} TO {value}" for name, value in PINNED_SETTINGS]
    return [*pinned, f"SET statement_timeout TO {int(statement_timeout_ms)}"]


# The cluster's compute nodes; one node means FETCH may take at most 1,000 rows at a time.
NODE_COUNT = "SELECT COUNT(DISTINCT node) FROM stv_slices"


def describe_columns(ref: TableRef) -> RedshiftQuery:
    """Columns of a table or view, late-binding views and external tables included.

    ``information_schema.columns`` omits late-binding views, Spectrum external tables and
    datashare objects; ``SVV_ALL_COLUMNS`` lists them all, external columns as
    ``SVV_EXTERNAL_COLUMNS`` has them (``catalog_types`` maps their type names too).
    """
    return RedshiftQuery(
        "SELECT column_name, data_type, character_maximum_length, numeric_precision,"
        " numeric_scale, is_nullable"
        " FROM svv_all_columns"
        " WHERE database_name = CURRENT_DATABASE() AND schema_name = %s AND table_name = %s"
        " ORDER BY ordinal_position",
        (ref.schema, ref.name),
    )


def _measure_sum(spec: TableSpec, schema: TableSchema | None) -> str:
    """The exact decimal SUM, or for a float column the order-independent ``float_measure_sum``."""
    if not spec.measure_column:
        return "CAST(NULL AS VARCHAR(64))"
    if has_float_measure(spec, schema):
        return float_measure_sum(identifier(spec.measure_column))
    return f"CAST(SUM({identifier(spec.measure_column)}) AS VARCHAR(64))"


def fingerprints(
    spec: TableSpec, start: date, end: date, schema: TableSchema | None = None
) -> RedshiftQuery:
    """Row count, measure sum and max watermark per day of ``[start, end)``: one grouped scan.

    ``schema`` tells whether the measure is a float column (see ``float_measure_sum``).
    """
    partition = identifier(spec.partition_column)
    measure = _measure_sum(spec, schema)
    watermark = (
        f"CAST(MAX({identifier(spec.watermark_column)}) AS VARCHAR(64))"
        if spec.watermark_column
        else "CAST(NULL AS VARCHAR(64))"
    )
    return RedshiftQuery(
        f"SELECT CAST({partition} AS DATE) AS partition_day, COUNT(*) AS row_count,"
        f" {measure} AS measure_sum, {watermark} AS max_watermark"
        f" FROM {table_name(spec.source)}"
        f" WHERE {partition} >= %s AND {partition} < %s"
        " GROUP BY 1",
        (start, end),
    )


def date_literal(day: date) -> str:
    return f"CAST('{day.isoformat()}' AS DATE)"


def watermark_literal(value: str, column_type: ColumnType) -> str:
    """A typed literal for a stored watermark, refusing anything but a date, time or integer."""
    if column_type.kind in _INTEGER and re.fullmatch(r"-?\d{1,19}", value):
        return str(int(value))
    if column_type.kind in (TypeKind.DATE, TypeKind.TIMESTAMP, TypeKind.TIMESTAMPTZ) and (
        _TIMESTAMP_LITERAL.fullmatch(value)
    ):
        cast = {
            TypeKind.DATE: "DATE",
            TypeKind.TIMESTAMP: "TIMESTAMP",
            TypeKind.TIMESTAMPTZ: "TIMESTAMPTZ",
        }[column_type.kind]
        return f"CAST('{value}' AS {cast})"
    raise ConfigError(f"watermark value {value!r} is not a valid {column_type} literal")


def timestamp_literal(moment: datetime) -> str:
    return f"CAST('{moment.isoformat(sep=' ')}' AS TIMESTAMP)"


def _conditions(
    spec: TableSpec,
    schema: TableSchema,
    window: PartitionWindow,
    changed_since: str | None,
    bounds: tuple[datetime, datetime] | None,
) -> str:
    partition = identifier(spec.partition_column)
    if bounds is None:
        low, high = date_literal(window.start), date_literal(window.end)
    else:
        low, high = timestamp_literal(bounds[0]), timestamp_literal(bounds[1])
    conditions = [f"{partition} >= {low}", f"{partition} < {high}"]
    if changed_since is not None and spec.watermark_column:
        watermark = schema.get(spec.watermark_column)
        if watermark is None:
            raise ConfigError(f"table {spec.name!r}: watermark_column is not in the source")
        literal = watermark_literal(changed_since, watermark.type)
        conditions.append(f"{identifier(spec.watermark_column)} > {literal}")
    return " AND ".join(conditions)


def select_rows(
    spec: TableSpec,
    schema: TableSchema,
    window: PartitionWindow,
    changed_since: str | None = None,
    bounds: tuple[datetime, datetime] | None = None,
) -> tuple[str, RowLayout]:
    """The query a partition's rows are read with, and how its rows map onto COPY lines.

    ``bounds`` narrows the window to a time slice of the partition column (see ``hour_counts``).
    """
    items, layout = select_list(schema)
    where = _conditions(spec, schema, window, changed_since, bounds)
    return f"SELECT {', '.join(items)} FROM {table_name(spec.source)} WHERE {where}", layout


def hour_counts(
    spec: TableSpec, schema: TableSchema, window: PartitionWindow, changed_since: str | None
) -> str:
    """Rows per hour of the partition column in the window: how a large day is sliced."""
    partition = identifier(spec.partition_column)
    where = _conditions(spec, schema, window, changed_since, None)
    return (
        f"SELECT DATE_TRUNC('hour', {partition}) AS hour_start, COUNT(*) AS row_count"
        f" FROM {table_name(spec.source)} WHERE {where} GROUP BY 1 ORDER BY 1"
    )


def declare(select: str) -> str:
    return f"DECLARE {CURSOR} CURSOR FOR {select}"


def fetch(count: int) -> str:
    return f"FETCH FORWARD {int(count)} FROM {CURSOR}"


CLOSE = f"CLOSE {CURSOR}"


# What an S3 location, an IAM role and a region may contain here; all three are quoted into
# UNLOAD, so anything else is refused (the settings are validated earlier, this is the last line).
_UNLOAD_VALUE = re.compile(r"^[A-Za-z0-9_.:/=+,@*!()-]+$")


def _unload_value(value: str, what: str) -> str:
    if not _UNLOAD_VALUE.fullmatch(value):
        raise ConfigError(f"{what} {value!r} cannot be written into an UNLOAD statement")
    return value


def unload(select: str, location: str, iam_role: str, region: str | None = None) -> str:
    """UNLOAD ``select``'s rows to ``location`` (``s3://bucket/prefix/``) as gzip text.

    Each select-list item becomes a tab-separated field, as written (no ESCAPE: the rendered
    groups already are COPY text, and a spilled SUPER is JSON, which has no raw control
    character); a NULL is an empty field. Every slice writes its own files
    (``<location><slice>_part_<nn>.gz``, ``PARALLEL ON``) and ``MANIFEST VERBOSE`` lists each
    with its size and row count in ``<location>manifest``. The query is a quoted literal, its
    quotes doubled; it never contains a backslash (see ``row_text``), so none needs escaping.
    """
    if "\\" in select:
        raise ConfigError("a query containing a backslash cannot be quoted into UNLOAD")
    quoted = select.replace("'", "''")
    options = [
        f"TO '{_unload_value(location, 'S3 location')}'",
        f"IAM_ROLE '{_unload_value(iam_role, 'IAM role')}'",
        "DELIMITER AS '\\t'",  # the tab, as UNLOAD spells it
        "MANIFEST VERBOSE",
        "GZIP",
        "PARALLEL ON",
    ]
    if region:
        options.append(f"REGION AS '{_unload_value(region, 'region')}'")
    return f"UNLOAD ('{quoted}') {' '.join(options)}"
