"""How a source row is rendered on the cluster into one PostgreSQL COPY text line.

The client then neither builds a Python object per value nor escapes anything itself: a typical
row arrives as one value, ready to copy (the client's cost is per value fetched, not per byte). A
rendered string is a VARCHAR and Redshift refuses any longer than 65,535 bytes, so columns are
packed into rendered groups whose worst case fits. A column that could overflow on its own
(SUPER, a very wide VARCHAR) is rendered in its group when its value is short, which is almost
always; a longer value leaves an empty field and travels raw in an item of its own, to be escaped
on the client.

String literals contain no backslash (its meaning depends on server settings), so ``CHR(92)``
spells it -- cast to VARCHAR, because Redshift's ``CHR`` returns CHAR, and CHAR mixed into an
expression turns the result into CHAR and drops the trailing blanks of the values it meets.
"""

from __future__ import annotations

from dataclasses import dataclass

from qupersync_dagster.domain.entities import ColumnType, TableSchema, TypeKind
from qupersync_dagster.infrastructure.float_sql import FLOAT_KINDS, float_text
from qupersync_dagster.infrastructure.redshift.names import identifier

MAX_VARCHAR_BYTES = 65_535
# Values of unbounded columns (SUPER, VARCHARs too wide to render whole) up to this many bytes
# are rendered in their group, longer ones travel in a select-list item of their own.
SPILL_BYTES = 8192
# Redshift serialises a SUPER value with JSON_SERIALIZE up to this many bytes (a VARCHAR).
MAX_SERIALIZED_BYTES = MAX_VARCHAR_BYTES


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
        text = float_text(column, kind)  # exact with extra_float_digits pinned
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


def unload_refusal(schema: TableSchema, layout: RowLayout) -> str | None:
    """Why rows of ``schema`` cannot travel through UNLOAD's unescaped text files, or None.

    Rendered groups are COPY text already and a spilled SUPER is JSON, which has no raw line
    break or tab, so both arrive line for line. A spilled string is raw text that may hold
    either; only the cursor carries it, as a value of its own.
    """
    for position in layout.spills:
        column = schema.columns[position]
        if column.type.kind is not TypeKind.JSON:
            return (
                f"column {column.name!r} ({column.type}) may hold values too long to render on "
                "the cluster, which only a cursor carries raw"
            )
    return None
