"""Type compatibility decides whether a value can be copied without truncation or rounding.

A wrong ``holds`` lets a sync silently round costs or cut strings; a wrong ``widened_to_hold``
makes schema evolution produce a column that still cannot take the source's values.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qupersync_dagster.domain.entities import ColumnType, TypeKind

V = TypeKind


def varchar(n: int | None) -> ColumnType:
    return ColumnType(V.VARCHAR, length=n)


def char(n: int) -> ColumnType:
    return ColumnType(V.CHAR, length=n)


def numeric(p: int | None, s: int | None = None) -> ColumnType:
    return ColumnType(V.NUMERIC, precision=p, scale=s)


def plain(kind: TypeKind) -> ColumnType:
    return ColumnType(kind)


@pytest.mark.parametrize(
    ("target", "source"),
    [
        (varchar(100), varchar(100)),
        (varchar(100), varchar(20)),
        (varchar(None), varchar(65535)),
        (plain(V.TEXT), varchar(65535)),
        (plain(V.TEXT), char(3)),
        (varchar(10), char(10)),
        (char(3), char(3)),
        (plain(V.BIGINT), plain(V.SMALLINT)),
        (plain(V.INTEGER), plain(V.INTEGER)),
        (numeric(38, 10), numeric(38, 10)),
        (numeric(38, 10), numeric(20, 4)),
        (numeric(None), numeric(38, 10)),
        (numeric(12, 2), plain(V.INTEGER)),
        (numeric(19), plain(V.BIGINT)),
        (plain(V.DOUBLE), plain(V.REAL)),
        (plain(V.JSON), plain(V.JSON)),
        (plain(V.TIMESTAMPTZ), plain(V.TIMESTAMPTZ)),
    ],
)
def test_a_target_type_holds_every_value_of_a_narrower_or_equal_source_type(target, source):
    assert target.holds(source)


@pytest.mark.parametrize(
    ("target", "source"),
    [
        (varchar(20), varchar(100)),
        (varchar(20), varchar(None)),
        (varchar(20), plain(V.TEXT)),
        (char(10), varchar(10)),
        (char(3), char(4)),
        (plain(V.INTEGER), plain(V.BIGINT)),
        (numeric(38, 2), numeric(38, 10)),
        (numeric(12, 2), numeric(13, 2)),
        (numeric(12, 2), numeric(None)),
        (numeric(10, 2), plain(V.INTEGER)),
        (numeric(18), plain(V.BIGINT)),
        (plain(V.REAL), plain(V.DOUBLE)),
        (plain(V.INTEGER), numeric(5, 0)),
        (plain(V.TIMESTAMP), plain(V.TIMESTAMPTZ)),
        (plain(V.TIMESTAMPTZ), plain(V.TIMESTAMP)),
        (plain(V.DATE), plain(V.TIMESTAMP)),
        (plain(V.TEXT), plain(V.JSON)),
        (plain(V.BOOLEAN), plain(V.SMALLINT)),
    ],
)
def test_a_target_type_refuses_a_source_type_that_could_truncate_or_round(target, source):
    assert not target.holds(source)


@pytest.mark.parametrize(
    ("target", "source", "widened"),
    [
        (varchar(20), varchar(100), varchar(100)),
        (varchar(20), varchar(None), varchar(None)),
        (varchar(20), char(30), varchar(30)),
        (plain(V.SMALLINT), plain(V.BIGINT), plain(V.BIGINT)),
        (numeric(12, 2), numeric(12, 4), numeric(14, 4)),
        (numeric(12, 2), numeric(20, 2), numeric(20, 2)),
        (numeric(12, 6), numeric(38, 0), numeric(44, 6)),
        (numeric(12, 2), numeric(None), numeric(None)),
        (varchar(100), varchar(20), varchar(100)),
    ],
)
def test_widening_gives_the_smallest_type_holding_both(target, source, widened):
    assert target.widened_to_hold(source) == widened


@pytest.mark.parametrize(
    ("target", "source"),
    [
        (char(10), varchar(20)),
        (plain(V.INTEGER), numeric(12, 2)),
        (plain(V.REAL), plain(V.DOUBLE)),
        (plain(V.TIMESTAMP), plain(V.TIMESTAMPTZ)),
        (plain(V.TEXT), plain(V.JSON)),
        (plain(V.BOOLEAN), plain(V.INTEGER)),
    ],
)
def test_no_widening_is_offered_where_values_would_change_meaning(target, source):
    assert target.widened_to_hold(source) is None


def test_type_names_read_as_sql():
    assert [str(t) for t in (varchar(20), varchar(None), char(2), numeric(38, 10), numeric(9))] == [
        "varchar(20)",
        "varchar",
        "char(2)",
        "numeric(38,10)",
        "numeric(9,0)",
    ]


LENGTHS = st.one_of(st.none(), st.integers(min_value=1, max_value=65535))
TYPES = st.one_of(
    st.builds(varchar, LENGTHS),
    st.builds(char, st.integers(min_value=1, max_value=4096)),
    st.just(plain(V.TEXT)),
    st.integers(min_value=1, max_value=38).flatmap(
        lambda p: st.builds(numeric, st.just(p), st.integers(min_value=0, max_value=p))
    ),
    st.just(numeric(None)),
    st.sampled_from([plain(k) for k in V if k not in (V.VARCHAR, V.CHAR, V.TEXT, V.NUMERIC)]),
)


@given(TYPES)
def test_every_type_holds_itself(column_type):
    assert column_type.holds(column_type)


@given(TYPES, TYPES)
def test_a_widened_type_holds_the_source_type_and_everything_the_target_held(target, source):
    widened = target.widened_to_hold(source)
    if widened is not None:
        assert widened.holds(source)
        assert widened.holds(target)


@given(TYPES, TYPES, TYPES)
def test_holding_is_transitive(a, b, c):
    if a.holds(b) and b.holds(c):
        assert a.holds(c)
