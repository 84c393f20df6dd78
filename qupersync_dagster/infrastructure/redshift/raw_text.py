"""Fetched rows kept as the bytes the cluster sent.

Rows leave Redshift already in COPY text form (UTF-8) and enter PostgreSQL's COPY as bytes, so
decoding every value to ``str`` and encoding the batch back costs the client as much as reading
the wire does, for nothing. ``redshift_connector`` also pays per row for what does not change
within a statement: it rebuilds the list of column decoders and logs each DataRow. A FETCH
executed inside ``raw_rows`` has its DataRow messages parsed by ``_raw_row`` instead: every
column's value as the bytes sent (None for SQL NULL), nothing decoded. Catalogue and fingerprint
queries run outside it and keep the driver's typed values.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redshift_connector
from redshift_connector.core import DATA_ROW
from redshift_connector.utils import h_unpack, i_unpack


def _raw_row(data: bytes, cursor: Any) -> None:
    """One DataRow message body: Int16 column count, then per column Int32 length and bytes."""
    row: list[bytes | None] = []
    offset = 2
    for _ in range(h_unpack(data)[0]):
        length = i_unpack(data, offset)[0]
        offset += 4
        if length < 0:  # -1: SQL NULL
            row.append(None)
        else:
            row.append(data[offset : offset + length])
            offset += length
    cursor._cached_rows.append(row)


@contextmanager
def raw_rows(conn: redshift_connector.Connection) -> Iterator[None]:
    """Within the block, rows received on ``conn`` hold each value as the bytes sent.

    Only for statements whose columns are all text (a rendered row, a spilled VARCHAR or SUPER):
    a number would arrive as its wire bytes too.
    """
    handlers = conn.message_types
    saved = handlers[DATA_ROW]
    handlers[DATA_ROW] = _raw_row
    try:
        yield
    finally:
        handlers[DATA_ROW] = saved
