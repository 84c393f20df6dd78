"""The float SQL on a real PostgreSQL, judged against exact arithmetic done in Python.

``float_text``, on a session with QuperSync's pinned settings, must give back the very bits it
was given, for every double (random bit patterns included) and every real; ``float_measure_sum``
must equal the rule it documents, ``sum(sign(x) * floor(|x| * 2^40))``, computed here with exact
fractions, and so must ``postgres_float_measure_sum``, the target's cheaper form of it, which must
also give the shared form's very text on every value.
"""

from __future__ import annotations

import math
import random
import struct

import pytest
import sqlglot

from qupersync_dagster.domain.entities import TypeKind
from qupersync_dagster.infrastructure.float_sql import (
    float_measure_sum,
    float_text,
    postgres_float_measure_sum,
)
from qupersync_dagster.infrastructure.redshift import sql
from qupersync_dagster_tests.tables import float_measure_units, redshift_float_digits

pytestmark = pytest.mark.integration

EDGES = [
    0.0,
    -0.0,
    5e-324,
    -5e-324,
    2.225073858507201e-308,
    2.2250738585072014e-308,
    0.1 + 0.2,
    1 / 3,
    1e-10,
    -4.35e-11,
    123456.78901234567,
    2.0**53 + 2,
    -(2.0**62) + 1024,
    1.7976931348623157e308,
    -1.7976931348623157e308,
]
NON_FINITE = [math.inf, -math.inf, math.nan]


def _random_doubles(count: int) -> list[float]:
    draw = random.Random(20261202)
    values = [struct.unpack("<d", struct.pack("<Q", draw.getrandbits(64)))[0] for _ in range(count)]
    return [v for v in values if math.isfinite(v)]


def _random_reals(count: int) -> list[float]:
    draw = random.Random(20261203)
    values = [struct.unpack("<f", struct.pack("<I", draw.getrandbits(32)))[0] for _ in range(count)]
    return [v for v in values if math.isfinite(v)]


@pytest.fixture
def floats(pg_server, source_db):
    """A cursor on a table ``f(x double precision, r real)``, in a database rendering 15 digits
    by default, on a session set up as every source session is."""
    with redshift_float_digits(pg_server, source_db) as cur:
        for statement in sql.session_setup(0):
            cur.execute(statement)
        cur.execute("CREATE TABLE f (x double precision, r real)")
        yield cur


def _insert(cur, values: list[float], column: str = "x") -> None:
    # Bound as text so that no client-side formatting stands between Python and float8in.
    rows = [(v.hex() if math.isfinite(v) else repr(v),) for v in values]
    cur.executemany(f"INSERT INTO f ({column}) VALUES (%s::float8)", rows)


def _bits(cur, expression: str) -> list[tuple]:
    cur.execute(f"SELECT float8send(x), float8send(({expression})::float8) FROM f")
    return cur.fetchall()


def test_doubles_render_to_text_that_reads_back_bit_for_bit(floats):
    _insert(floats, EDGES + NON_FINITE + _random_doubles(5_000))
    pairs = _bits(floats, float_text("x"))
    assert len(pairs) > 5_000
    assert [original for original, _ in pairs] == [copy for _, copy in pairs]


def test_reals_render_via_double_and_read_back_as_the_same_real(floats):
    reals = [-0.0, *NON_FINITE, *_random_reals(2_000)]
    _insert(floats, reals, "r")
    rendered = float_text("r", TypeKind.REAL)
    floats.execute(
        f"SELECT count(*), count(*) FILTER (WHERE float4send(({rendered})::real)"
        "                                  IS DISTINCT FROM float4send(r))"
        " FROM f WHERE r IS NOT NULL"
    )
    checked, different = floats.fetchone()
    assert checked > 1_000 and different == 0


def test_signed_zero_and_specials_render_as_postgresql_reads_them(floats):
    _insert(floats, [-0.0, 0.0, *NON_FINITE])
    floats.execute(f"SELECT {float_text('x')} FROM f")
    rendered = sorted(text for (text,) in floats.fetchall())
    assert rendered == sorted(["-0", "0", "Infinity", "-Infinity", "NaN"])


@pytest.fixture(params=[float_measure_sum, postgres_float_measure_sum], ids=["shared", "postgres"])
def measure_sum(request):
    """Each form of the fingerprint sum: the source's (shared) and the target's."""
    return request.param


def _fingerprint(cur, rule=float_measure_sum) -> str | None:
    cur.execute(f"SELECT {rule('x')} FROM f")
    return cur.fetchone()[0]


@pytest.mark.parametrize(
    "values",
    [
        EDGES,
        _random_doubles(3_000),
        [1e16, 1.0, -1e16, 0.1, 0.2, -0.3, 2.0**61, -(2.0**-1000)],
        [3e25, 2.0**62, -(2.0**70), 1e300, *NON_FINITE],
    ],
    ids=["edges", "random", "cancelling", "saturating"],
)
def test_the_measure_sum_is_the_documented_rule_exactly(floats, measure_sum, values):
    _insert(floats, values)
    assert _fingerprint(floats, measure_sum) == str(float_measure_units(values))


def test_the_measure_sum_does_not_depend_on_the_order_of_the_rows(floats, measure_sum):
    values = [1e16, 1.0, -1e16, 0.1, 0.2, 0.3, -0.6, 5e-324, 123456.78901234567] * 50
    _insert(floats, values)
    expected = _fingerprint(floats, measure_sum)
    floats.execute("TRUNCATE f")
    _insert(floats, list(reversed(values)))
    assert _fingerprint(floats, measure_sum) == expected == str(float_measure_units(values))


def test_the_measure_sum_of_nulls_only_is_null_like_sum(floats, measure_sum):
    floats.execute("INSERT INTO f (x) VALUES (NULL), (NULL)")
    assert _fingerprint(floats, measure_sum) is None


def test_a_cost_changed_by_a_ten_billionth_changes_the_sum(floats, measure_sum):
    _insert(floats, [0.1, 12.3456789012, -0.0000000001])
    before = _fingerprint(floats, measure_sum)
    floats.execute("UPDATE f SET x = x + 1e-10 WHERE x = 0.1")
    assert _fingerprint(floats, measure_sum) != before


# Values on either side of each boundary of the target's form: 2^23 (where it stops truncating
# x * 2^40 itself), 2^62 (saturation), the largest double, and the smallest ones.
TRICKY = [
    *EDGES,
    *NON_FINITE,
    2.0**23,
    -(2.0**23),
    math.nextafter(2.0**23, 0),
    -math.nextafter(2.0**23, 0),
    math.nextafter(2.0**23, math.inf),
    2.0**62,
    math.nextafter(2.0**62, 0),
    -math.nextafter(2.0**62, 0),
    2.0**-40,
    math.nextafter(2.0**-40, 0),
    -math.nextafter(2.0**-40, 0),
    -(2.0**-41),
    -1e-300,
    1e-320,
]


def test_the_targets_form_gives_the_shared_forms_text_group_by_group(floats):
    """Each value alone, with NULLs beside it, then all of them together and a group of NULLs."""
    floats.execute("ALTER TABLE f ADD COLUMN g integer")
    groups = [[v] for v in TRICKY] + [[v, None] for v in TRICKY] + [TRICKY, [None, None]]
    draw = random.Random(20261204)
    groups += [draw.sample(TRICKY, 6) + _random_doubles(20) for _ in range(50)]
    floats.executemany(
        "INSERT INTO f (g, x) VALUES (%s, %s::float8)",
        [
            (g, None if v is None else v.hex() if math.isfinite(v) else repr(v))
            for g, values in enumerate(groups)
            for v in values
        ],
    )
    floats.execute(
        f"SELECT g, {float_measure_sum('x')}, {postgres_float_measure_sum('x')}"
        " FROM f GROUP BY g ORDER BY g"
    )
    found = floats.fetchall()
    assert [shared for _, shared, _ in found] == [
        None
        if all(v is None for v in values)
        else str(float_measure_units([v for v in values if v is not None]))
        for values in groups
    ]
    assert [ours for _, _, ours in found] == [shared for _, shared, _ in found]


@pytest.mark.parametrize("sql", [float_text('"x"'), float_measure_sum('"x"')])
def test_the_expressions_are_redshift_sql(sql):
    sqlglot.parse_one(f'SELECT {sql} FROM "billing"."t"', read="redshift")
