"""Fetched row text kept as the bytes the cluster sent.

Rows leave Redshift already in COPY text form (UTF-8) and enter PostgreSQL's COPY as bytes, so
decoding every value to ``str`` and encoding the batch back costs the client as much as reading
the wire does, for nothing. ``redshift_connector`` picks a decoder per result column type when a
statement is prepared; a FETCH prepared inside ``text_as_bytes`` therefore yields its text
columns as ``bytes``. Catalogue and fingerprint queries are prepared outside it and keep ``str``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redshift_connector
from redshift_connector.utils.oids import RedshiftOID

# The types a rendered row or a raw text column arrives as (Redshift: VARCHAR; PostgreSQL: text),
# and a spilled SUPER value (Redshift: SUPER; its stand-in on PostgreSQL: json).
_TEXT_TYPES = (
    RedshiftOID.VARCHAR,
    RedshiftOID.TEXT,
    RedshiftOID.BPCHAR,
    RedshiftOID.SUPER,
    RedshiftOID.JSON,
)


def _undecoded(data: bytes, offset: int, length: int) -> bytes:
    return data[offset : offset + length]


@contextmanager
def text_as_bytes(conn: redshift_connector.Connection) -> Iterator[None]:
    """Within the block, statements prepared on ``conn`` return text columns as ``bytes``."""
    decoders = conn.redshift_types
    saved = {int(oid): decoders[oid] for oid in _TEXT_TYPES}
    decoders.update({oid: (fmt, _undecoded) for oid, (fmt, _) in saved.items()})
    try:
        yield
    finally:
        decoders.update(saved)
