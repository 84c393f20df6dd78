"""Every statement sent to Redshift is checked against Redshift's grammar, not PostgreSQL's.

The wire emulator runs these statements on PostgreSQL, which accepts SQL that Redshift refuses, so
the integration tests alone would not notice a PostgreSQL-only construct. Here each statement is
parsed with sqlglot's ``redshift`` dialect, and the properties the source relies on -- quoted
identifiers, no backslash in any literal, rendered rows that fit a VARCHAR, watermark literals
that cannot carry SQL -- are asserted directly.
"""

from __future__ import annotations

import re
from datetime import date, datetime

import pytest
import sqlglot
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

from qupersync_dagster.devkit.cur_data import CUR_COLUMNS, PRIMARY_KEY
from qupersync_dagster.domain.entities import (
    Column,
    ColumnType,
    PartitionWindow,
    SyncMode,
    TableRef,
    TableSchema,
    TableSpec,
    TypeKind,
)
from qupersync_dagster.domain.errors import ConfigError
from qupersync_dagster.infrastructure.float_sql import float_measure_sum
from qupersync_dagster.infrastructure.redshift import row_text, sql

T = TypeKind
WINDOW = PartitionWindow.day(date(2026, 8, 3))
MAX_VARCHAR = 65_535

# The longest text Redshift can render for a value of each fixed-width type (derived from the
# type's range, written out here rather than taken from the module under test).
LONGEST_TEXT = {
    T.SMALLINT: len("-32768"),
    T.INTEGER: len("-2147483648"),
    T.BIGINT: len("-9223372036854775808"),
    T.REAL: len("-3.4028235e+38"),
    T.DOUBLE: len("-1.7976931348623157e+308"),
    T.BOOLEAN: len("f"),
    T.DATE: len("4713-01-01 BC"),
    T.TIMESTAMP: len("4713-01-01 00:00:00.000000 BC"),
    T.TIMESTAMPTZ: len("4713-01-01 00:00:00.000000+14:00 BC"),
}
NULL_TEXT = len("\\N")


def _cur_type(ddl: str) -> ColumnType:
    name, _, args = ddl.partition("(")
    numbers = [int(n) for n in args.rstrip(")").split(",")] if args else []
    if name == "varchar":
        return ColumnType(T.VARCHAR, length=numbers[0])
    if name == "numeric":
        return ColumnType(T.NUMERIC, precision=numbers[0], scale=numbers[1])
    kinds = {
        "timestamp": T.TIMESTAMP,
        "json": T.JSON,
        "jsonb": T.JSON,
        "double precision": T.DOUBLE,
    }
    return ColumnType(kinds[name])


CUR_SCHEMA = TableSchema(
    tuple(Column(n, _cur_type(t), n not in PRIMARY_KEY) for n, t in CUR_COLUMNS)
)
CUR_SPEC = TableSpec(
    name="cur_line_items",
    source=TableRef("billing", "cur_line_items"),
    target=TableRef("cost", "cur_line_items"),
    partition_column="line_item_usage_start_date",
    start_date=date(2026, 8, 1),
    mode=SyncMode.UPSERT,
    primary_key=PRIMARY_KEY,
    watermark_column="updated_at",
    measure_column="line_item_unblended_cost",
)
WIDE_SCHEMA = TableSchema(
    (
        Column("day", ColumnType(T.DATE), nullable=False),
        Column("flag", ColumnType(T.BOOLEAN)),
        Column("code", ColumnType(T.CHAR, length=3)),
        Column("huge", ColumnType(T.VARCHAR, length=65535)),
        Column("unbounded", ColumnType(T.VARCHAR)),
        Column("tags", ColumnType(T.JSON)),
        Column("big", ColumnType(T.VARCHAR, length=30000)),
        Column("also_big", ColumnType(T.VARCHAR, length=30000)),
        Column("amount", ColumnType(T.NUMERIC, precision=38, scale=10)),
        Column("seen", ColumnType(T.TIMESTAMPTZ)),
        Column("ratio", ColumnType(T.DOUBLE)),
        Column("n", ColumnType(T.BIGINT)),
    )
)
WIDE_SPEC = TableSpec(
    name="wide",
    source=TableRef("billing", "wide"),
    target=TableRef("cost", "wide"),
    partition_column="day",
    start_date=date(2026, 8, 1),
    mode=SyncMode.UPSERT,
    primary_key=("day",),
    watermark_column="seen",
    measure_column="amount",
)
CASES = [(CUR_SPEC, CUR_SCHEMA), (WIDE_SPEC, WIDE_SCHEMA)]
CASE_IDS = ["cur", "wide"]


def _parse_select(statement: str) -> exp.Select:
    tree = sqlglot.parse_one(statement, read="redshift", error_level=sqlglot.ErrorLevel.RAISE)
    assert isinstance(tree, exp.Select)
    return tree


def _select_of_declare(statement: str) -> str:
    match = re.fullmatch(r"DECLARE qupersync_rows CURSOR FOR (SELECT .+)", statement, re.DOTALL)
    assert match, statement
    return match.group(1)


def _statements(spec: TableSpec, schema: TableSchema) -> list[str]:
    select, _ = sql.select_rows(spec, schema, WINDOW, "2026-08-02 10:00:00.123456")
    return [
        *sql.session_setup(30_000),
        sql.describe_columns(spec.source).sql,
        sql.NODE_COUNT,
        sql.hour_counts(spec, schema, WINDOW, "2026-08-02 10:00:00"),
        sql.fingerprints(spec, WINDOW.start, WINDOW.end, schema).sql,
        sql.declare(select),
        sql.fetch(10_000),
        sql.CLOSE,
    ]


def _assert_names_quoted(tree: exp.Expression) -> None:
    for column in tree.find_all(exp.Column):
        assert column.this.quoted, column.sql()
    for table in tree.find_all(exp.Table):
        assert table.this.quoted and table.args["db"].quoted, table.sql()


def _columns_in_order(item: str) -> list[str]:
    tree = sqlglot.parse_one(item, read="redshift", error_level=sqlglot.ErrorLevel.RAISE)
    return list(dict.fromkeys(c.name for c in tree.find_all(exp.Column, bfs=False)))


@pytest.mark.parametrize(("spec", "schema"), CASES, ids=CASE_IDS)
def test_the_cursor_query_is_a_redshift_select_with_every_name_quoted(spec, schema):
    select, _ = sql.select_rows(spec, schema, WINDOW, "2026-08-02 10:00:00")
    tree = _parse_select(_select_of_declare(sql.declare(select)))
    _assert_names_quoted(tree)
    assert [t.sql(dialect="redshift") for t in tree.find_all(exp.Table)] == [
        sql.table_name(spec.source)
    ]


def test_a_float_measure_is_summed_by_the_float_rule_and_a_decimal_one_exactly():
    measure = CUR_SPEC.measure_column
    as_decimal = TableSchema(
        tuple(
            Column(c.name, ColumnType(T.NUMERIC, precision=38, scale=10))
            if c.name == measure
            else c
            for c in CUR_SCHEMA.columns
        )
    )
    assert CUR_SCHEMA.get(measure).type.kind is T.DOUBLE
    float_query = sql.fingerprints(CUR_SPEC, WINDOW.start, WINDOW.end, CUR_SCHEMA).sql
    decimal_query = sql.fingerprints(CUR_SPEC, WINDOW.start, WINDOW.end, as_decimal).sql
    assert float_measure_sum(sql.identifier(measure)) in float_query
    assert f"SUM({sql.identifier(measure)})" not in float_query
    assert f"CAST(SUM({sql.identifier(measure)}) AS VARCHAR(64))" in decimal_query


@pytest.mark.parametrize(("spec", "schema"), CASES, ids=CASE_IDS)
def test_the_catalogue_and_fingerprint_queries_are_redshift_selects(spec, schema):
    describe = sql.describe_columns(spec.source)
    fingerprints = sql.fingerprints(spec, WINDOW.start, WINDOW.end, schema)
    _parse_select(describe.sql)
    _assert_names_quoted(_parse_select(fingerprints.sql))
    assert describe.params == (spec.source.schema, spec.source.name)
    assert fingerprints.params == (WINDOW.start, WINDOW.end)
    assert describe.sql.count("%s") == 2 and fingerprints.sql.count("%s") == 2


@pytest.mark.parametrize(("spec", "schema"), CASES, ids=CASE_IDS)
def test_the_node_and_hour_count_queries_are_redshift_selects(spec, schema):
    _parse_select(sql.NODE_COUNT)
    _assert_names_quoted(_parse_select(sql.hour_counts(spec, schema, WINDOW, None)))


def test_a_slice_of_a_day_is_read_between_typed_timestamp_literals():
    bounds = (datetime(2026, 8, 3, 6), datetime(2026, 8, 3, 13, 30))
    select, _ = sql.select_rows(CUR_SPEC, CUR_SCHEMA, WINDOW, None, bounds)
    assert select.endswith(
        "WHERE \"line_item_usage_start_date\" >= CAST('2026-08-03 06:00:00' AS TIMESTAMP)"
        " AND \"line_item_usage_start_date\" < CAST('2026-08-03 13:30:00' AS TIMESTAMP)"
    )
    _assert_names_quoted(_parse_select(select))


def test_fetch_and_close_name_the_declared_cursor():
    assert re.fullmatch(r"FETCH FORWARD 1000 FROM qupersync_rows", sql.fetch(1000))
    assert re.fullmatch(r"CLOSE qupersync_rows", sql.CLOSE)


@pytest.mark.parametrize(("spec", "schema"), CASES, ids=CASE_IDS)
def test_no_statement_contains_a_backslash(spec, schema):
    for statement in _statements(spec, schema):
        assert "\\" not in statement, statement


@pytest.mark.parametrize(("spec", "schema"), CASES, ids=CASE_IDS)
def test_the_select_list_covers_every_column_once_in_schema_order(spec, schema):
    items, layout = row_text.select_list(schema)
    assert len(items) == layout.groups + len(layout.spills)
    covered = [name for item in items[: layout.groups] for name in _columns_in_order(item)]
    assert covered == list(schema.names)
    spilled = [_columns_in_order(item) for item in items[layout.groups :]]
    assert spilled == [[schema.names[field]] for field in layout.spills]


def test_unbounded_columns_are_rendered_in_their_group_and_spill_when_too_long():
    items, layout = row_text.select_list(WIDE_SCHEMA)
    assert [WIDE_SCHEMA.names[field] for field in layout.spills] == ["huge", "unbounded", "tags"]
    assert layout.groups > 1 or layout.spills


def test_a_null_super_is_rendered_as_null_not_as_the_json_text_null():
    # Redshift's JSON_SERIALIZE(NULL) is the text 'null'; only the column itself tells NULL.
    items, layout = row_text.select_list(CUR_SCHEMA)
    group = items[0]
    assert "CASE WHEN \"resource_tags\" IS NULL THEN CAST(CHR(92) AS VARCHAR(1)) || 'N'" in group


def test_no_control_character_is_spelt_as_a_bare_chr_whose_char_type_drops_blanks():
    # Redshift's CHR returns CHAR; mixed into an expression it makes the result a CHAR, which
    # loses the trailing blanks of the VARCHAR values it meets.
    for spec, schema in CASES:
        for statement in _statements(spec, schema):
            bare = re.sub(r"CAST\(CHR\(\d+\) AS VARCHAR\(1\)\)", "", statement)
            assert "CHR(" not in bare, statement


def test_a_super_is_measured_with_json_size_and_a_large_one_travels_unserialised():
    # JSON_SERIALIZE refuses values over a VARCHAR (64 KB); a SUPER holds up to 16 MB.
    items, layout = row_text.select_list(CUR_SCHEMA)
    spill = items[layout.groups + layout.spills.index(CUR_SCHEMA.names.index("resource_tags"))]
    assert "JSON_SERIALIZE" not in spill
    assert re.fullmatch(
        r'CASE WHEN "resource_tags" IS NOT NULL AND JSON_SIZE\("resource_tags"\) > \d+'
        r' THEN "resource_tags" END',
        spill,
    )
    for item in items[: layout.groups]:
        for serialised in re.finditer(r'JSON_SERIALIZE\("(\w+)"\)', item):
            guard = f'WHEN JSON_SIZE("{serialised.group(1)}") <= {row_text.SPILL_BYTES} THEN'
            assert guard in item[: serialised.start()]


def test_every_session_pins_the_settings_that_shape_rendered_text():
    statements = sql.session_setup(30_000)
    assert "SET datestyle TO 'ISO, MDY'" in statements
    assert "SET extra_float_digits TO 2" in statements
    assert "SET timezone TO 'UTC'" in statements
    for statement in statements:
        sqlglot.parse_one(statement, read="redshift", error_level=sqlglot.ErrorLevel.RAISE)


def test_a_narrow_table_is_rendered_as_one_copy_line_per_row():
    schema = TableSchema(tuple(c for c in CUR_SCHEMA.columns if c.type.kind is not T.JSON))
    _, layout = row_text.select_list(schema)
    assert layout.groups == 1 and not layout.spills


def _inline_limit(item: str, name: str) -> int:
    """The byte length up to which an unbounded column is rendered in ``item`` (from its SQL)."""
    match = re.search(rf'(?:OCTET_LENGTH|JSON_SIZE)\("{name}"\) <= (\d+)', item)
    assert match, f"unbounded column {name} is rendered without a length guard"
    return int(match.group(1))


def _worst_case_bytes(columns: list[Column], item: str) -> int:
    total = len(columns) - 1  # the tabs between fields
    for column in columns:
        kind = column.type.kind
        length = column.type.length
        if kind is T.JSON or (kind in (T.VARCHAR, T.CHAR, T.TEXT) and not length):
            total += 2 * _inline_limit(item, column.name)  # every byte may be escaped
        elif kind in (T.VARCHAR, T.CHAR) and 2 * length > MAX_VARCHAR:
            total += 2 * min(length, _inline_limit(item, column.name))
        elif kind in (T.VARCHAR, T.CHAR):
            total += max(2 * length, NULL_TEXT)  # every byte may be escaped
        elif kind is T.NUMERIC:
            total += column.type.precision + len("-0.")
        else:
            total += LONGEST_TEXT[kind]
    return total


def _assert_groups_fit(schema: TableSchema) -> None:
    items, layout = row_text.select_list(schema)
    for item in items[: layout.groups]:
        names = _columns_in_order(item)
        group = [schema.get(name) for name in names]
        assert _worst_case_bytes(group, item) <= MAX_VARCHAR, names


@pytest.mark.parametrize(("spec", "schema"), CASES, ids=CASE_IDS)
def test_a_rendered_group_never_exceeds_a_redshift_varchar(spec, schema):
    _assert_groups_fit(schema)


def test_many_mid_sized_columns_are_split_into_groups_that_fit():
    schema = TableSchema(
        tuple(Column(f"c{i}", ColumnType(T.VARCHAR, length=4000)) for i in range(40))
    )
    _, layout = row_text.select_list(schema)
    assert layout.groups > 1 and not layout.spills
    _assert_groups_fit(schema)


FIXED = [T.SMALLINT, T.INTEGER, T.BIGINT, T.REAL, T.DOUBLE, T.BOOLEAN, T.DATE, T.TIMESTAMP]
COLUMN_TYPES = st.one_of(
    st.builds(ColumnType, st.just(T.VARCHAR), length=st.integers(1, 65535)),
    st.builds(ColumnType, st.just(T.CHAR), length=st.integers(1, 4096)),
    st.integers(1, 38).flatmap(
        lambda p: st.builds(
            ColumnType, st.just(T.NUMERIC), precision=st.just(p), scale=st.integers(0, p)
        )
    ),
    st.sampled_from([ColumnType(k) for k in [*FIXED, T.TIMESTAMPTZ, T.JSON]]),
)


# No deadline: parsing sixty rendered columns (a float's exact rendering is a long expression)
# with sqlglot takes as long as the machine's load makes it; what is judged here is the layout.
@settings(deadline=None)
@given(st.lists(COLUMN_TYPES, min_size=1, max_size=60))
def test_any_schema_is_grouped_into_varchars_that_fit(column_types):
    schema = TableSchema(tuple(Column(f"c{i}", t) for i, t in enumerate(column_types)))
    _assert_groups_fit(schema)
    items, layout = row_text.select_list(schema)
    covered = [n for item in items[: layout.groups] for n in _columns_in_order(item)]
    assert covered == list(schema.names)


@pytest.mark.parametrize(
    ("value", "kind", "literal"),
    [
        ("2026-08-02", T.DATE, "CAST('2026-08-02' AS DATE)"),
        ("2026-08-02 10:00:00", T.TIMESTAMP, "CAST('2026-08-02 10:00:00' AS TIMESTAMP)"),
        ("2026-08-02 10:00:00.5", T.TIMESTAMP, "CAST('2026-08-02 10:00:00.5' AS TIMESTAMP)"),
        ("2026-08-02 10:00:00+00", T.TIMESTAMPTZ, "CAST('2026-08-02 10:00:00+00' AS TIMESTAMPTZ)"),
        (
            "2026-08-02 10:00:00+05:30",
            T.TIMESTAMPTZ,
            "CAST('2026-08-02 10:00:00+05:30' AS TIMESTAMPTZ)",
        ),
        ("-42", T.BIGINT, "-42"),
        ("007", T.INTEGER, "7"),
    ],
)
def test_a_stored_watermark_becomes_a_typed_literal(value, kind, literal):
    assert sql.watermark_literal(value, ColumnType(kind)) == literal


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("2026-01-01'; DROP TABLE x; --", T.TIMESTAMP),
        ("2026-01-01' OR '1'='1", T.DATE),
        ("2026-01-01 00:00:00'::text || '", T.TIMESTAMPTZ),
        ("2026-01-01\n", T.DATE),
        ("2026-01-01", T.VARCHAR),
        ("1; DROP TABLE x", T.BIGINT),
        ("1 OR 1=1", T.INTEGER),
        ("2026-01-01", T.INTEGER),
        ("12345678901234567890", T.BIGINT),
        ("", T.TIMESTAMP),
    ],
)
def test_a_watermark_that_is_not_a_plain_date_time_or_integer_is_refused(value, kind):
    with pytest.raises(ConfigError, match="watermark value"):
        sql.watermark_literal(value, ColumnType(kind))


def test_an_injected_watermark_never_reaches_the_cursor_query():
    with pytest.raises(ConfigError):
        sql.select_rows(CUR_SPEC, CUR_SCHEMA, WINDOW, "2026-01-01'; DROP TABLE x; --")


def test_an_incremental_read_compares_the_watermark_column_with_a_typed_literal():
    select, _ = sql.select_rows(CUR_SPEC, CUR_SCHEMA, WINDOW, "2026-08-02 10:00:00")
    where = _parse_select(select).args["where"].this.sql(dialect="redshift")
    assert where.endswith("\"updated_at\" > CAST('2026-08-02 10:00:00' AS TIMESTAMP)")
    assert "CAST('2026-08-03' AS DATE)" in where and "CAST('2026-08-04' AS DATE)" in where


def test_identifiers_are_quoted_with_embedded_quotes_doubled():
    assert sql.identifier('a"b') == '"a""b"'
    assert sql.table_name(TableRef("billing", "cur")) == '"billing"."cur"'


ROLE = "arn:aws:iam::123456789012:role/qupersync-unload"
STAGED = "s3://qupersync-staging/qupersync/cur_line_items/2026-08-03/20260804T010203-0a1b2c3d4e5f/"


def _unquoted(literal: str) -> str:
    """A Redshift string literal's text: its quotes doubled inside, no backslash escapes used."""
    assert literal.startswith("'") and literal.endswith("'")
    inner = literal[1:-1]
    assert "'" not in inner.replace("''", ""), "every quote inside is doubled"
    return inner.replace("''", "'")


@pytest.mark.parametrize(("spec", "schema"), CASES, ids=CASE_IDS)
def test_unload_quotes_the_very_select_the_cursor_reads_and_writes_gzip_text_with_a_manifest(
    spec, schema
):
    select, _ = sql.select_rows(spec, schema, WINDOW, "2026-08-02 10:00:00")
    statement = sql.unload(select, STAGED, ROLE, "eu-west-1")

    match = re.fullmatch(r"UNLOAD \(('(?:[^']|'')*')\) (.*)", statement, re.DOTALL)
    assert match, statement
    inner, options = match.groups()
    assert _unquoted(inner) == select
    _assert_names_quoted(_parse_select(_unquoted(inner)))
    assert options == (
        f"TO '{STAGED}' IAM_ROLE '{ROLE}' DELIMITER AS '\\t' MANIFEST VERBOSE GZIP PARALLEL ON"
        " REGION AS 'eu-west-1'"
    )
    assert "LIMIT" not in _unquoted(inner).upper()  # UNLOAD refuses an outer LIMIT


def test_unload_names_a_region_only_when_one_is_configured():
    assert "REGION" not in sql.unload("SELECT 1", STAGED, ROLE)


@pytest.mark.parametrize(
    ("location", "role", "region"),
    [
        ("s3://b/p'; DROP TABLE x; --/", ROLE, None),
        (STAGED, "arn:aws:iam::123456789012:role/x' ACCESS_KEY_ID 'k", None),
        (STAGED, ROLE, "eu-west-1' PARALLEL OFF"),
        (STAGED, ROLE, "eu\\west"),
    ],
)
def test_unload_refuses_a_location_role_or_region_that_could_break_out_of_its_quotes(
    location, role, region
):
    with pytest.raises(ConfigError, match="cannot be written into an UNLOAD statement"):
        sql.unload("SELECT 1", location, role, region)


def test_unload_refuses_a_query_with_a_backslash_rather_than_guess_its_escaping():
    with pytest.raises(ConfigError, match="backslash"):
        sql.unload('SELECT "a\\b" FROM t', STAGED, ROLE)


def test_rows_with_a_raw_wide_string_cannot_be_unloaded_but_spilled_super_can():
    _, cur_layout = row_text.select_list(CUR_SCHEMA)
    _, wide_layout = row_text.select_list(WIDE_SCHEMA)

    assert cur_layout.spills and row_text.unload_refusal(CUR_SCHEMA, cur_layout) is None
    assert row_text.unload_refusal(WIDE_SCHEMA, wide_layout) == (
        "column 'huge' (varchar(65535)) may hold values too long to render on the cluster, "
        "which only a cursor carries raw"
    )
