"""Read both ends of a sync directly, to compare them independently of QuperSync's own code."""

from __future__ import annotations

import contextlib
import math
from fractions import Fraction

from qupersync_dagster.devkit.cur_data import CUR_COLUMNS

# json and jsonb print differently; both sides are compared in jsonb's canonical text.
_CANONICAL = ", ".join(
    f"{name}::jsonb::text" if kind.startswith("json") else name for name, kind in CUR_COLUMNS
)


def day_digest(server, database: str, table: str, day: str) -> tuple[int, str | None]:
    """Row count and an order-independent md5 over every column of one day of ``table``."""
    query = (
        f"SELECT COUNT(*), md5(string_agg(r, '|' ORDER BY r)) FROM ("
        f" SELECT concat_ws(',', {_CANONICAL}) AS r FROM {table}"
        f" WHERE line_item_usage_start_date >= %s::date"
        f" AND line_item_usage_start_date < %s::date + 1) AS rows"
    )
    with contextlib.closing(server.connect(database)) as conn, conn.cursor() as cursor:
        cursor.execute(query, (day, day))
        return cursor.fetchone()


def float_measure_units(values) -> int:
    """The float fingerprint rule, in exact arithmetic: sum of sign(x) * floor(|x| * 2^40).

    Finite magnitudes saturate at 2^62; infinities, NaN and None count nothing.
    """
    total = 0
    for value in values:
        if value is not None and math.isfinite(value):
            magnitude = min(Fraction(abs(value)), Fraction(2**62))
            total += int(math.copysign(math.floor(magnitude * 2**40), value))
    return total


@contextlib.contextmanager
def redshift_float_digits(server, database: str):
    """An autocommitting cursor on ``database``, given Redshift's default first.

    ``extra_float_digits = 0`` for every new session, as Redshift has it: a float cast to text
    there keeps 15 significant digits.
    """
    with contextlib.closing(server.connect(database)) as conn:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(f'ALTER DATABASE "{database}" SET extra_float_digits = 0')
    with contextlib.closing(server.connect(database)) as conn:  # a session that has it
        conn.autocommit = True
        with conn.cursor() as cursor:
            yield cursor


def scalar(server, database: str, query: str, params: tuple = ()):
    with contextlib.closing(server.connect(database)) as conn, conn.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchone()[0]
