"""SQL for floating-point columns that reads the same on Redshift and on PostgreSQL.

Two promises break on floats if the obvious SQL is used:

- **Values arrive bit for bit.** ``CAST(x AS VARCHAR)`` renders a ``double precision`` with 15
  significant digits on Redshift unless the session raised ``extra_float_digits``; every source
  session pins it at 2 (17 digits, always enough for a double), and a ``real`` is widened to
  ``double precision`` first, which is exact. See ``float_text``.
- **A day's fingerprint is stable.** ``SUM(double precision)`` on a cluster adds partial sums in
  arrival order, so an unchanged day can sum differently run to run. The float fingerprint is the
  sum of whole numbers instead: each value truncated toward zero to a multiple of 2^-40
  (about 9.1e-13) and counted in those units, added as ``DECIMAL(38,0)``, which is exact and
  independent of order. See ``float_measure_sum``.

Every operation the fingerprint uses is exact in binary floating point (scaling by a power of
two, ``FLOOR``, subtracting a multiple of a power of two that is not larger than the value), so
both servers compute the same bits.
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


def float_text(column: str, kind: TypeKind = TypeKind.DOUBLE) -> str:
    """``column`` (double precision or real) as text that parses back to the very same bits.

    Exact because every source session pins ``extra_float_digits`` at 2 (``sql.PINNED_SETTINGS``,
    Redshift's maximum): a double then renders with 17 significant digits, always enough. A real
    would render with 6 + 2 = 8, not always enough, so it is widened to double first (exact).
    """
    value = column if kind is TypeKind.DOUBLE else f"CAST({column} AS {_DOUBLE})"
    return f"CAST({value} AS VARCHAR)"


# Magnitudes below 2^62 count exactly; finite ones at or above it count as 2^62.
_EXACT_BELOW = 62
_UNIT_BITS = 40  # one unit is 2^-40
# |x| = high * 2^23 + low with low < 2^23: floor(low * 2^40) < 2^63 and high < 2^39 fit a BIGINT.
_SPLIT_BITS = 23


def _signed(column: str, magnitude: str) -> str:
    return f"CASE WHEN {column} < 0 THEN -{magnitude} ELSE {magnitude} END"


def _parts(value: str) -> tuple[str, str]:
    """The signed ``high`` and ``low`` of the split that ``float_measure_sum`` documents."""
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
    return _signed(value, f"({high_part})"), _signed(value, f"({low_part})")


def _combined(high_sum: str, low_sum: str) -> str:
    return (
        f"CAST({high_sum} * {_power_of_two(_SPLIT_BITS + _UNIT_BITS, 'DECIMAL(38, 0)')}"
        f" + {low_sum} AS VARCHAR(64))"
    )


def float_measure_sum(column: str) -> str:
    """The fingerprint sum of a float column, as text of a whole number; NULL if all are NULL.

    Each value ``x`` counts ``sign(x) * floor(|x| * 2^40)`` units of 2^-40, so a change of 2e-12
    or more in one value always changes the sum. To stay within BIGINT, ``|x|`` is split exactly
    into ``high * 2^23 + low``; the sums of ``high`` and of ``floor(low * 2^40)`` are taken as
    ``DECIMAL(38,0)`` and combined as ``high_sum * 2^63 + low_sum``. Finite magnitudes of 2^62
    (4.6e18) and more saturate at 2^62; infinities and NaN count 0; NULLs are skipped, as ``SUM``
    skips them. The sum stays exact while a day's magnitudes add up to less than about 9e25.
    """
    high, low = _parts(f"CAST({column} AS {_DOUBLE})")
    return _combined(
        f"SUM(CAST(CAST({high} AS BIGINT) AS DECIMAL(38, 0)))",
        f"SUM(CAST(CAST({low} AS BIGINT) AS DECIMAL(38, 0)))",
    )


def postgres_float_measure_sum(column: str) -> str:
    """``float_measure_sum`` as PostgreSQL computes it cheaply, giving the very same text.

    PostgreSQL's ``SUM(bigint)`` is already exact (accumulated in 128 bits, returned as
    ``numeric``), so the units are summed as BIGINTs, not cast row by row to ``DECIMAL(38,0)``.
    Below 2^23, where ``high`` is 0, a value's units are ``TRUNC(x * 2^40)``: scaling by a power
    of two is exact, and truncating toward zero is ``sign(x) * floor(|x| * 2^40)``. Larger
    magnitudes, infinities and NaN (which PostgreSQL sorts above every number) take the split.
    """
    value = f"CAST({column} AS {_DOUBLE})"
    small = f"ABS({value}) < {_power_of_two(_SPLIT_BITS)}"
    high, low = _parts(value)
    units = f"TRUNC({value} * {_power_of_two(_UNIT_BITS)})"
    return _combined(
        f"SUM(CAST(CASE WHEN {small} THEN 0 ELSE {high} END AS BIGINT))",
        f"SUM(CAST(CASE WHEN {small} THEN {units} ELSE {low} END AS BIGINT))",
    )
