"""Every statement QuperSync sends to Redshift, in one place.

Written to the Amazon Redshift SQL reference, not to PostgreSQL's: a cursor is DECLAREd inside a
transaction and read with ``FETCH FORWARD n``; booleans cannot be CAST to VARCHAR; string
literals contain no backslash (its meaning depends on server settings), so ``CHR(92)`` spells it
-- cast to VARCHAR, because Redshift's ``CHR`` returns CHAR, and CHAR mixed into an expression
turns the result into CHAR and drops the trailing blanks of the values it meets.

Every setting that shapes rendered text (date style, float digits, time zone) is pinned on each
session (``session_setup``): a user or parameter group default must not change what arrives.

Rows are rendered on the cluster into PostgreSQL's COPY text format, so the client neither builds
a Python object per value nor escapes anything itself: a typical row arrives as one value, ready
to copy (the client's cost is per value fetched, not per byte). A rendered string is a VARCHAR
and Redshift refuses any longer than 65,535 bytes, so columns are packed into rendered groups
whose worst case fits. A column that could overflow on its own (SUPER, a very wide VARCHAR) is
rendered in its group when its value is short, which is almost always; a longer value leaves an
empty field and travels raw in an item of its own, to be escaped on the client.

Catalogue and fingerprint queries bind their values as parameters. Redshift does not document
bind parameters inside DECLARE, so the cursor's query carries its values as typed literals, and
only values that pass a strict date, timestamp or integer pattern are ever rendered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
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
from qupersync_dagster.infrastructure.float_sql import (
    FLOAT_KINDS,
    exact_float_text,
    float_measure_sum,
    has_float_measure,
)

CURSOR = "qupersync_rows"
MAX_VARCHAR_BYTES = 65_535
# Values of unbounded columns (SUPER, VARCHARs too wide to render whole) up to this many bytes
# are rendered in their group, longer ones travel in a select-list item of their own.
SPILL_BYTES = 8192

# Redshift serialises a SUPER value with JSON_SERIALIZE up to this many bytes (a VARCHAR).
MAX_SERIALIZED_BYTES = MAX_VARCHAR_BYTES
SINGLE_NODE_FETCH_LIMIT = 1000
# What each source session pins: the text the cluster renders depends on all of them.
PINNED_SETTINGS = (
    ("datestyle", "'ISO, MDY'"),
    ("extra_float_digits", "2"),
    ("timezone", "'UTC'"),
)


def _char(code: int) -> str:
    """One control character as a VARCHAR: Redshift's CHR returns CHAR (see the docstring)."""
    return f"CAST(CHR({int(code)}) AS VARCHAR(1))"


_TAB = _char(9)
_BACKSLASH = _char(92)
_NULL = f"{_BACKSLASH} || 'N'"
_ESCAPES = (
    (_BACKSLASH, f"{_BACKSLASH} || {_BACKSLASH}"),
    (_TAB, f"{_BACKSLASH} || 't'"),
    (_char(10), f"{_BACKSLASH} || 'n'"),
    (_char(13), f"{_BACKSLASH} || 'r'"),
)

_STRING = {TypeKind.VARCHAR, TypeKind.CHAR, TypeKind.TEXT}
_INTEGER = {TypeKind.SMALLINT, TypeKind.INTEGER, TypeKind.BIGINT}
_TIMESTAMP_LITERAL = re.compile(
    r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2}(\.\d{1,6})?)?([+-]\d{2}(:?\d{2})?)?$"
)
# Worst-case rendered width in bytes of the types whose width does not depend on a length.
_FIXED_WIDTH = {
    TypeKind.SMALLINT: 6,
    TypeKind.INTEGER: 11,
    TypeKind.BIGINT: 20,
    TypeKind.REAL: 32,
    TypeKind.DOUBLE: 32,
    TypeKind.BOOLEAN: 2,
    TypeKind.DATE: 14,
    TypeKind.TIMESTAMP: 32,
    TypeKind.TIMESTAMPTZ: 40,
}


def identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_name(ref: TableRef) -> str:
    return f"{identifier(ref.schema)}.{identifier(ref.name)}"


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


@dataclass(frozen=True)
class RowLayout:
    """How a fetched row maps onto a COPY line.

    The first ``groups`` select-list items are rendered groups of columns (COPY text already,
    never NULL); joined with tabs, in order, they are the line. Each further item belongs to an
    unbounded column and is NULL unless that row's value was too long to render in its group:
    then the group holds an empty field at line position ``spills[i]`` and the item carries the
    raw value, which the client escapes into that field.
    """

    groups: int
    spills: tuple[int, ...] = ()

    @property
    def single_rendered(self) -> bool:
        return self.groups == 1 and not self.spills


def _width(column_type: ColumnType) -> int | None:
    """Worst-case rendered bytes of one value, None when it could exceed a VARCHAR."""
    kind = column_type.kind
    if kind in _STRING:
        if column_type.length is None:
            return None
        width = 2 * column_type.length  # every byte may become a two-byte escape
    elif kind is TypeKind.NUMERIC:
        width = (column_type.precision or 38) + 3
    elif kind is TypeKind.JSON:
        return None
    else:
        width = _FIXED_WIDTH[kind]
    return width if width <= MAX_VARCHAR_BYTES else None


def _text(column: str, column_type: ColumnType) -> str:
    """A string or SUPER column as the text COPY must receive, before escaping."""
    if column_type.kind is TypeKind.JSON:
        return f"JSON_SERIALIZE({column})"
    if column_type.kind is TypeKind.CHAR and column_type.length:
        # A CHAR turned into text may lose its trailing blanks; COPY writes them all.
        return f"RPAD({column}, {int(column_type.length)})"
    return column


def _escaped(text: str) -> str:
    for old, new in _ESCAPES:
        text = f"REPLACE({text}, {old}, {new})"
    return text


def _rendered(name: str, column_type: ColumnType) -> str:
    column = identifier(name)
    kind = column_type.kind
    if kind in _STRING:
        text = _escaped(_text(column, column_type))
    elif kind is TypeKind.BOOLEAN:
        text = f"CASE WHEN {column} THEN 't' WHEN NOT {column} THEN 'f' END"
    elif kind in FLOAT_KINDS:
        text = exact_float_text(column, kind)  # not CAST: it follows extra_float_digits
    else:
        text = f"CAST({column} AS VARCHAR)"
    return f"COALESCE({text}, {_NULL})"


def _size(column: str, column_type: ColumnType) -> str:
    """Bytes of the column's text; ``JSON_SIZE`` measures SUPER without serialising it."""
    if column_type.kind is TypeKind.JSON:
        return f"JSON_SIZE({column})"
    return f"OCTET_LENGTH({_text(column, column_type)})"


def _rendered_or_spilled(name: str, column_type: ColumnType) -> tuple[str, str]:
    """An unbounded column: rendered in its group up to ``SPILL_BYTES``, else spilled.

    Returns the group's field and the spill item. SQL NULL is tested on the column itself:
    ``JSON_SERIALIZE`` turns a NULL SUPER into the JSON text 'null'. A spilled SUPER travels as
    SUPER, which the cluster serialises for the client itself: ``JSON_SERIALIZE`` refuses values
    longer than a VARCHAR (64 KB) while a SUPER holds up to 16 MB.
    """
    column = identifier(name)
    text = _text(column, column_type)
    size = _size(column, column_type)
    raw = column if column_type.kind is TypeKind.JSON else text
    field = (
        f"CASE WHEN {column} IS NULL THEN {_NULL}"
        f" WHEN {size} <= {SPILL_BYTES} THEN {_escaped(text)} ELSE '' END"
    )
    spill = f"CASE WHEN {column} IS NOT NULL AND {size} > {SPILL_BYTES} THEN {raw} END"
    return field, spill


def select_list(schema: TableSchema) -> tuple[list[str], RowLayout]:
    """Select-list items rendering ``schema``'s columns, in order, and their layout."""
    groups: list[str] = []
    spills: list[str] = []
    spill_fields: list[int] = []
    group: list[str] = []
    group_width = 0

    def close_group() -> None:
        nonlocal group, group_width
        if group:
            groups.append(f" || {_TAB} || ".join(group))
        group, group_width = [], 0

    for position, column in enumerate(schema.columns):
        width = _width(column.type)
        if width is None:
            field, spill = _rendered_or_spilled(column.name, column.type)
            width = 2 * SPILL_BYTES
            spills.append(spill)
            spill_fields.append(position)
        else:
            field = _rendered(column.name, column.type)
        if group and group_width + 1 + width > MAX_VARCHAR_BYTES:
            close_group()
        group.append(field)
        group_width += width + (1 if len(group) > 1 else 0)
    close_group()
    return groups + spills, RowLayout(len(groups), tuple(spill_fields))


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
