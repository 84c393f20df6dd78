"""Whether a day is read through a cursor or UNLOADed to S3, decided per day before it is read.

``extract: auto`` compares the day's estimated size with the table's ``unload_above_mb``. The
estimate costs nothing: the fingerprint query already counted the day's rows, and a row's width
is estimated from its schema (a typical rendered width per column type, not the worst case the
cluster must allow for). UNLOAD needs S3 staging; without it, ``auto`` reads by cursor and an
explicit ``extract: unload`` is refused.
"""

from __future__ import annotations

from qupersync_dagster.domain.entities import (
    ColumnType,
    ExtractChoice,
    ExtractMethod,
    SourceFingerprint,
    TableSchema,
    TableSpec,
    TypeKind,
)
from qupersync_dagster.domain.errors import ConfigError

MB = 1_000_000

# Typical COPY text bytes of a value, its separator included: what a day of CUR looks like, not
# the worst case (a numeric(38,10) is rarely 40 digits, a varchar(256) rarely 256 bytes).
_TYPICAL_BYTES = {
    TypeKind.SMALLINT: 4,
    TypeKind.INTEGER: 8,
    TypeKind.BIGINT: 12,
    TypeKind.REAL: 14,
    TypeKind.DOUBLE: 20,
    TypeKind.BOOLEAN: 2,
    TypeKind.DATE: 11,
    TypeKind.TIMESTAMP: 20,
    TypeKind.TIMESTAMPTZ: 23,
    TypeKind.TEXT: 64,
    TypeKind.JSON: 256,
}
_TYPICAL_STRING = 32  # a varchar's typical bytes, when it is declared at least this wide
_TYPICAL_NUMERIC = 16


def _typical_bytes(column_type: ColumnType) -> int:
    kind, length = column_type.kind, column_type.length
    if kind is TypeKind.VARCHAR and length is not None:
        return min(length, _TYPICAL_STRING) + 1
    if kind is TypeKind.CHAR and length is not None:
        return length + 1  # padded to its length
    if kind is TypeKind.NUMERIC:
        return min((column_type.precision or 38) + 2, _TYPICAL_NUMERIC) + 1
    return _TYPICAL_BYTES.get(kind, 64 + 1)


def estimated_bytes(schema: TableSchema, rows: int) -> int:
    """About how many bytes ``rows`` rows of ``schema`` take as COPY text."""
    return rows * sum(_typical_bytes(column.type) for column in schema.columns)


def choose(
    spec: TableSpec, schema: TableSchema, fingerprint: SourceFingerprint, staging: bool
) -> ExtractChoice:
    """How to read the day ``fingerprint`` describes; ``staging``: S3 staging is configured."""
    if spec.extract is ExtractMethod.CURSOR:
        return ExtractChoice(ExtractMethod.CURSOR, "extract: cursor")
    if spec.extract is ExtractMethod.UNLOAD:
        if not staging:
            raise ConfigError(
                f"table {spec.name!r}: extract 'unload' needs S3 staging, which is not "
                "configured (see the README's UNLOAD settings)"
            )
        return ExtractChoice(ExtractMethod.UNLOAD, "extract: unload")
    if not staging:
        return ExtractChoice(ExtractMethod.CURSOR, "auto: no S3 staging configured")
    size = estimated_bytes(schema, fingerprint.row_count)
    about = f"auto: about {size / MB:,.1f} MB estimated"
    if size > spec.unload_above_mb * MB:
        return ExtractChoice(ExtractMethod.UNLOAD, f"{about}, above {spec.unload_above_mb} MB")
    return ExtractChoice(ExtractMethod.CURSOR, f"{about}, within {spec.unload_above_mb} MB")
