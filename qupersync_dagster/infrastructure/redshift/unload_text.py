"""UNLOADed lines back into COPY lines: the spill fields folded into their places.

UNLOAD writes a row's select-list items tab-separated: the rendered groups (which joined by
tabs already are the COPY line, see ``row_text``) and then one field per spill item, empty (or
JSON ``null``) unless the row's SUPER value was too long to render. Nearly every batch has no
spilled value, and is turned into COPY lines by one replace of the empty spill fields; a row
that has one gets the value escaped into its placeholder field, as the cursor path does.
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
    return b"".join(_line(line, layout) + b"\n" for line in data.split(b"\n")[:-1])


def _line(line: bytes, layout: RowLayout) -> bytes:
    head, *spilled = line.rsplit(b"\t", len(layout.spills))
    fields: list[bytes] | None = None
    for field, value in zip(layout.spills, spilled, strict=True):
        if len(value) > SPILL_BYTES:  # a spilled value is longer; empty or null is none
            fields = fields or head.split(b"\t")  # rendered text has no raw tab but separators
            fields[field] = escape_bytes(value)
    return b"\t".join(fields) if fields else head
