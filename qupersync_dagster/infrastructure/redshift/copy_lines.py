"""Rows read from Redshift, by cursor or by UNLOAD, as COPY text lines for the target.

The source renders each row as COPY text in SQL (see ``row_text``): the rendered groups joined by
tabs already are the line. A SUPER value too long to render travels in a spill item of its own
and leaves an empty placeholder field in the line; it is escaped into that field here. A cursor
delivers the groups and spill items as separate values (see ``fetch_lines``); UNLOAD writes
them tab-separated, a spill field empty (or JSON ``null``) unless the row's value was spilled.
Nearly every UNLOADed batch has no spilled value and becomes COPY lines by one replace.
"""

from __future__ import annotations

from qupersync_dagster.domain.services.copy_text import escape_bytes
from qupersync_dagster.infrastructure.redshift.row_text import SPILL_BYTES, RowLayout


def copy_lines(data: bytes, rows: int, layout: RowLayout) -> bytes:
    """``data``'s ``rows`` UNLOADed lines as COPY text lines."""
    spills = len(layout.spills)
    if not spills:
        return data
    for empty in (b"\t" * spills + b"\n", b"\tnull" * spills + b"\n"):
        if data.count(empty) == rows:  # each ends a line: every line has no spilled value
            return data.replace(empty, b"\n")
    return b"".join(_unloaded_line(line, layout) + b"\n" for line in data.split(b"\n")[:-1])


def _unloaded_line(line: bytes, layout: RowLayout) -> bytes:
    head, *spilled = line.rsplit(b"\t", len(layout.spills))
    values = {
        field: value
        for field, value in zip(layout.spills, spilled, strict=True)
        if len(value) > SPILL_BYTES  # a spilled value is longer; empty or null is none
    }
    return spliced(head, values) if values else head


def spliced(line: bytes, values: dict[int, bytes]) -> bytes:
    """``line`` with each value escaped into its (empty placeholder) field."""
    fields = line.split(b"\t")  # rendered text has no raw tab but separators
    for field, value in values.items():
        fields[field] = escape_bytes(value)
    return b"\t".join(fields)
