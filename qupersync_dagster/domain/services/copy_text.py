"""The row encoding shared by source and target: PostgreSQL's COPY text format.

Rows travel from Redshift to PostgreSQL as text lines the target parses itself, so no Python
object is built per value on the hot path. Most escaping is pushed down into the source query;
this module escapes the few values (very wide columns, SUPER) that have to be escaped on the way.
Those arrive as the UTF-8 bytes the source sent and are escaped as bytes: the four bytes that
need an escape never occur inside a multi-byte UTF-8 sequence, so no decoding is needed.
"""

from __future__ import annotations

NULL_BYTES = b"\\N"


def escape_bytes(value: bytes | None) -> bytes:
    """One field in COPY text form: ``\\N`` for NULL, backslash, tab, LF and CR escaped."""
    if value is None:
        return NULL_BYTES
    return (
        value.replace(b"\\", b"\\\\")
        .replace(b"\t", b"\\t")
        .replace(b"\n", b"\\n")
        .replace(b"\r", b"\\r")
    )
