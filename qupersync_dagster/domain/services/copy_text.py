"""The row encoding shared by source and target: PostgreSQL's COPY text format.

Rows travel from Redshift to PostgreSQL as text lines the target parses itself, so no Python
object is built per value on the hot path. Most escaping is pushed down into the source query;
this module escapes the few values (very wide columns) that have to be escaped on the way.
"""

from __future__ import annotations

NULL = "\\N"

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def escape(value: str | None) -> str:
    """One field in COPY text form: ``\\N`` for NULL, backslash, tab, LF and CR escaped."""
    if value is None:
        return NULL
    return value.translate(_ESCAPES)


def encode_row(fields: list[str | None] | tuple[str | None, ...]) -> str:
    return "\t".join(map(escape, fields))
