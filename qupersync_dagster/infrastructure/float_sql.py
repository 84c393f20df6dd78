"""SQL for floating-point columns that reads the same on Redshift and on PostgreSQL.

Two promises break on floats if the obvious SQL is used:

- **Values arrive bit for bit.** ``CAST(x AS VARCHAR)`` renders a ``double precision`` with 15
  significant digits on Redshift unless the session raised ``extra_float_digits``, Redshift's
  ``TO_CHAR`` has no exponent format, and PostgreSQL casts a float to ``DECIMAL`` with 15 digits.
  So a finite, non-zero value is rendered from its exact binary form instead: ``x = M * 2^-s``
  with ``M`` a whole number below 2^58 (``TO_HEX`` of a BIGINT), written as a C99 hexadecimal
  float (``0x1999999999999ap-56``), which PostgreSQL's ``float8in`` and ``float4in`` read exactly
  (they use ``strtod``/``strtof``). Zeros are written ``0`` or ``-0`` by their sign; infinities
  and NaN by ``CAST``, whose text for them no setting changes.
  A ``real`` is widened to ``double precision`` first, which is exact.
- **A day's fingerprint is stable.** ``SUM(double precision)`` on a cluster adds partial sums in
  arrival order, so an unchanged day can sum differently run to run. The float fingerprint is the
  sum of whole numbers instead: each value truncated toward zero to a multiple of 2^-40
  (about 9.1e-13) and counted in those units, added as ``DECIMAL(38,0)``, which is exact and
  independent of order. See ``float_measure_sum``.

Every operation used is exact in binary floating point (scaling by a power of two, ``FLOOR``,
subtracting a multiple of a power of two that is not larger than the value), so both servers
compute the same bits. Only ``LN`` is approximate, and only to guess a binary exponent that is
then allowed to be off by one.
"""

from __future__ import annotations

from qupersync_dagster.domain.entities import TableSchema, TableSpec, TypeKind

FLOAT_KINDS = frozenset({TypeKind.REAL, TypeKind.DOUBLE})
_DOUBLE = "DOUBLE PRECISION"
# The largest finite double: ABS(x) <= this is false for infinities and NaN on both servers
# (PostgreSQL sorts NaN above every number, IEEE compares it false with everything).
_MAX_FINITE = f"CAST('1.7976931348623157e308' AS {_DOUBLE})"


def has_float_measure(spec: TableSpec, schema: TableSchema | None) -> bool:
    """Whether ``spec``'s measure column is a float in ``schema`` (the source's columns)."""
    column = schema.get(spec.measure_column) if schema and spec.measure_column else None
    return column is not None and column.type.kind in FLOAT_KINDS


def _power_of_two(exponent: int, type_name: str = _DOUBLE) -> str:
    return f"CAST('{2**exponent}' AS {type_name})"


def exact_float_text(column: str, kind: TypeKind = TypeKind.DOUBLE) -> str:
    """``column`` (double precision or real) as text that parses back to the very same bits.

    ``q`` estimates ``log4 |x|`` (off by at most one), so ``|x| * 2^(54 - 2q)`` is a whole number
    below 2^58: exact in a double and in a BIGINT. The scaling is two equal powers of two, so
    that neither overflows and the product never goes subnormal.
    """
    value = column if kind is TypeKind.DOUBLE else f"CAST({column} AS {_DOUBLE})"
    q = f"FLOOR(LN(ABS({value})) / LN(4))"
    mantissa = f"CAST(ABS({value}) * POWER(2, 27 - {q}) * POWER(2, 27 - {q}) AS BIGINT)"
    hexadecimal = (
        f"CASE WHEN {value} < 0 THEN '-0x' ELSE '0x' END || TO_HEX({mantissa})"
        f" || 'p' || CAST(CAST(2 * {q} - 54 AS INTEGER) AS VARCHAR)"
    )
    # ATAN2(-0, -1) is -pi and ATAN2(0, -1) is pi: the sign of a zero, whatever CAST writes.
    zero = f"CASE WHEN ATAN2({value}, -1) < 0 THEN '-0' ELSE '0' END"
    return (
        f"CASE WHEN {value} <> 0 AND ABS({value}) <= {_MAX_FINITE} THEN {hexadecimal}"
        f" WHEN {value} = 0 THEN {zero} ELSE CAST({value} AS VARCHAR) END"
    )


# Magnitudes below 2^62 count exactly; finite ones at or above it count as 2^62.
_EXACT_BELOW = 62
_UNIT_BITS = 40  # one unit is 2^-40
# |x| = high * 2^23 + low with low < 2^23: floor(low * 2^40) < 2^63 and high < 2^39 fit a BIGINT.
_SPLIT_BITS = 23


def _signed(column: str, magnitude: str) -> str:
    return f"CASE WHEN {column} < 0 THEN -{magnitude} ELSE {magnitude} END"


def float_measure_sum(column: str) -> str:
    """The fingerprint sum of a float column, as text of a whole number; NULL if all are NULL.

    Each value ``x`` counts ``sign(x) * floor(|x| * 2^40)`` units of 2^-40, so a change of 2e-12
    or more in one value always changes the sum. To stay within BIGINT, ``|x|`` is split exactly
    into ``high * 2^23 + low``; the sums of ``high`` and of ``floor(low * 2^40)`` are taken as
    ``DECIMAL(38,0)`` and combined as ``high_sum * 2^63 + low_sum``. Finite magnitudes of 2^62
    (4.6e18) and more saturate at 2^62; infinities and NaN count 0; NULLs are skipped, as ``SUM``
    skips them. The sum stays exact while a day's magnitudes add up to less than about 9e25.
    """
    value = f"CAST({column} AS {_DOUBLE})"
    magnitude = f"ABS({value})"
    exact = f"{magnitude} < {_power_of_two(_EXACT_BELOW)}"
    # Dividing a tiny value would underflow, which PostgreSQL reports as an error.
    high = (
        f"CASE WHEN {magnitude} < {_power_of_two(_SPLIT_BITS)} THEN 0"
        f" ELSE FLOOR({magnitude} / {_power_of_two(_SPLIT_BITS)}) END"
    )
    low = (
        f"FLOOR(({magnitude} - ({high}) * {_power_of_two(_SPLIT_BITS)})"
        f" * {_power_of_two(_UNIT_BITS)})"
    )
    high_part = (
        f"CASE WHEN {exact} THEN {high} WHEN {magnitude} <= {_MAX_FINITE}"
        f" THEN {_power_of_two(_EXACT_BELOW - _SPLIT_BITS)} WHEN {value} IS NOT NULL THEN 0 END"
    )
    low_part = f"CASE WHEN {exact} THEN {low} WHEN {value} IS NOT NULL THEN 0 END"
    high_sum = f"SUM(CAST(CAST({_signed(value, f'({high_part})')} AS BIGINT) AS DECIMAL(38, 0)))"
    low_sum = f"SUM(CAST(CAST({_signed(value, f'({low_part})')} AS BIGINT) AS DECIMAL(38, 0)))"
    return (
        f"CAST({high_sum} * {_power_of_two(_SPLIT_BITS + _UNIT_BITS, 'DECIMAL(38, 0)')}"
        f" + {low_sum} AS VARCHAR(64))"
    )
