"""The CUR generator against a real PostgreSQL: shape, realism, determinism, restatements."""

from __future__ import annotations

import contextlib
import datetime
import json
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from psycopg2.extensions import connection

from qupersync_dagster.devkit.cur_data import (
    CUR_COLUMNS,
    PRIMARY_KEY,
    Money,
    create_source_table,
    generate,
    install_redshift_shims,
    restate_day,
)
from qupersync_dagster.devkit.embedded import ServerAddress

pytestmark = pytest.mark.integration

SCHEMA = "cur"
TABLE = "line_items"
START = datetime.date(2026, 10, 1)
DAYS = 10
ROWS = 20_003  # not a multiple of DAYS, so that "even" has to mean "within one row"
LINE_ITEM_TYPES = {
    "Usage",
    "DiscountedUsage",
    "SavingsPlanCoveredUsage",
    "Tax",
    "Credit",
    "Refund",
    "Fee",
    "RIFee",
    "SavingsPlanRecurringFee",
}
COST_COLUMNS = {
    "line_item_unblended_cost",
    "line_item_blended_cost",
    "line_item_net_unblended_cost",
    "pricing_public_on_demand_cost",
}
TABLE_MD5 = f"""
SELECT md5(string_agg(t::text, E'\\n' ORDER BY identity_line_item_id, identity_time_interval))
FROM {SCHEMA}.{TABLE} t
"""
DAY_MD5 = f"""
SELECT line_item_usage_start_date::date,
       md5(string_agg(t::text, E'\\n' ORDER BY identity_line_item_id, identity_time_interval))
FROM {SCHEMA}.{TABLE} t
GROUP BY 1
"""


def _connect(server: ServerAddress, database: str) -> Iterator[connection]:
    with contextlib.closing(server.connect(database)) as conn:
        create_source_table(conn, SCHEMA, TABLE)
        yield conn


@pytest.fixture
def source(pg_server: ServerAddress, source_db: str) -> Iterator[connection]:
    """A connection to a fresh database holding an empty CUR table."""
    yield from _connect(pg_server, source_db)


@pytest.fixture
def other_source(pg_server: ServerAddress, target_db: str) -> Iterator[connection]:
    """Another fresh database with an empty CUR table, to compare against ``source``."""
    yield from _connect(pg_server, target_db)


@pytest.fixture
def generated(source: connection) -> connection:
    assert generate(source, SCHEMA, TABLE, start=START, days=DAYS, rows=ROWS) == ROWS
    return source


def _all(conn: connection, query: str, parameters: tuple = ()) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(query, parameters)
        rows = cur.fetchall()
    conn.rollback()
    return rows


def _one(conn: connection, query: str, parameters: tuple = ()) -> Any:
    (row,) = _all(conn, query, parameters)
    return row[0] if len(row) == 1 else row


def _day_rows(conn: connection, day: datetime.date) -> dict[tuple[str, str], dict]:
    """The rows of ``day`` by key, as column -> value (numbers exact, as Decimal)."""
    rows = _all(
        conn,
        f"SELECT to_jsonb(t)::text FROM {SCHEMA}.{TABLE} t "
        "WHERE line_item_usage_start_date::date = %s",
        (day,),
    )
    decoded = [json.loads(text, parse_float=Decimal) for (text,) in rows]
    return {tuple(row[column] for column in PRIMARY_KEY): row for row in decoded}


def _assert_keys_unique(conn: connection) -> None:
    total, distinct = _one(
        conn,
        f"SELECT count(*), count(DISTINCT (identity_line_item_id, identity_time_interval)) "
        f"FROM {SCHEMA}.{TABLE}",
    )
    assert total == distinct


def _column_types(conn: connection) -> dict[str, str]:
    return dict(
        _all(
            conn,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s",
            (SCHEMA, TABLE),
        )
    )


def test_the_table_has_the_cur_columns_in_order(source: connection) -> None:
    columns = _all(
        source,
        "SELECT column_name, is_nullable FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        (SCHEMA, TABLE),
    )
    assert [name for name, _ in columns] == [name for name, _ in CUR_COLUMNS]
    assert len(columns) == 28
    assert {name for name, nullable in columns if nullable == "NO"} == set(PRIMARY_KEY)


def test_costs_are_doubles_and_maps_super_like_as_redshift_holds_cur_2(
    source: connection,
) -> None:
    types = _column_types(source)
    assert {name for name, kind in types.items() if kind == "double precision"} == (
        COST_COLUMNS | {"line_item_usage_amount", "line_item_unblended_rate"}
    )
    assert {name for name, kind in types.items() if kind == "json"} == {"product", "resource_tags"}
    assert "numeric" not in types.values()


def test_the_numeric_variant_keeps_exact_ten_decimal_costs(
    pg_server: ServerAddress, source_db: str
) -> None:
    with contextlib.closing(pg_server.connect(source_db)) as conn:
        create_source_table(conn, SCHEMA, TABLE, money=Money.NUMERIC)
        generate(conn, SCHEMA, TABLE, start=START, days=2, rows=2_000)
        types = _column_types(conn)
        assert {name for name, kind in types.items() if kind == "numeric"} == (
            COST_COLUMNS | {"line_item_usage_amount", "line_item_unblended_rate"}
        )
        # Ten decimal places in use, not just declared.
        assert (
            _one(
                conn,
                f"SELECT count(*) FROM {SCHEMA}.{TABLE} "
                "WHERE line_item_unblended_cost <> round(line_item_unblended_cost, 9)",
            )
            > 2_000 / 10
        )


def test_rows_are_spread_evenly_over_the_days(generated: connection) -> None:
    assert _one(generated, f"SELECT count(*) FROM {SCHEMA}.{TABLE}") == ROWS
    per_day = dict(
        _all(
            generated,
            f"SELECT line_item_usage_start_date::date, count(*) FROM {SCHEMA}.{TABLE} GROUP BY 1",
        )
    )
    assert sorted(per_day) == [START + datetime.timedelta(days=d) for d in range(DAYS)]
    assert set(per_day.values()) == {ROWS // DAYS, ROWS // DAYS + 1}
    # The daily time interval and the billing period agree with the usage hour.
    mismatched = _one(
        generated,
        f"""SELECT count(*) FROM {SCHEMA}.{TABLE}
            WHERE identity_time_interval
                  <> to_char(line_item_usage_start_date, 'YYYY-MM-DD"T00:00:00Z/"')
                     || to_char(line_item_usage_start_date + interval '1 day',
                                'YYYY-MM-DD"T00:00:00Z"')
               OR bill_billing_period_start_date
                  <> date_trunc('month', line_item_usage_start_date)
               OR line_item_usage_end_date <= line_item_usage_start_date""",
    )
    assert mismatched == 0
    hours = _one(
        generated,
        f"SELECT count(DISTINCT extract(hour FROM line_item_usage_start_date)) "
        f"FROM {SCHEMA}.{TABLE}",
    )
    assert hours == 24
    _assert_keys_unique(generated)


def test_the_data_looks_like_a_real_cur(generated: connection) -> None:
    types = Counter(
        dict(
            _all(
                generated,
                f"SELECT line_item_line_item_type, count(*) FROM {SCHEMA}.{TABLE} GROUP BY 1",
            )
        )
    )
    assert set(types) == LINE_ITEM_TYPES
    assert types.most_common(1)[0][0] == "Usage"
    assert types["Usage"] > ROWS / 2

    negative = _all(
        generated,
        f"SELECT DISTINCT line_item_line_item_type FROM {SCHEMA}.{TABLE} "
        "WHERE line_item_unblended_cost < 0",
    )
    assert {kind for (kind,) in negative} == {"Credit", "Refund"}
    assert (
        _one(
            generated,
            f"SELECT count(*) FROM {SCHEMA}.{TABLE} WHERE line_item_line_item_type = 'Tax' "
            "AND (line_item_resource_id <> '' OR line_item_usage_amount IS NOT NULL "
            "OR line_item_unblended_cost <= 0)",
        )
        == 0
    )
    # Float costs as a Parquet CUR holds them: many need more than 15 significant digits, and
    # a few are signed zeros, subnormals or the smallest normal double.
    with generated.cursor() as cur:
        cur.execute("SET LOCAL extra_float_digits = 0")  # 15 significant digits
        cur.execute(
            f"SELECT count(*) FILTER (WHERE line_item_unblended_cost::text::float8"
            "                               <> line_item_unblended_cost),"
            "        count(*) FILTER (WHERE line_item_unblended_cost = 0"
            "                         AND line_item_unblended_cost::text = '-0'),"
            "        count(*) FILTER (WHERE line_item_unblended_cost <> 0"
            "                         AND abs(line_item_unblended_cost) < 2.2250738585072014e-308),"
            "        count(*) FILTER (WHERE line_item_unblended_cost = 2.2250738585072014e-308)"
            f" FROM {SCHEMA}.{TABLE}"
        )
        over_15_digits, negative_zeros, subnormals, smallest_normal = cur.fetchone()
    generated.rollback()
    assert over_15_digits > ROWS / 10
    assert negative_zeros > 0 and subnormals > 0 and smallest_normal > 0

    currencies = Counter(
        dict(
            _all(
                generated,
                f"SELECT line_item_currency_code, count(*) FROM {SCHEMA}.{TABLE} GROUP BY 1",
            )
        )
    )
    assert set(currencies) == {"USD", "EUR"}
    assert currencies["USD"] > currencies["EUR"] > 0

    null_regions, empty_regions, null_tags = _one(
        generated,
        f"""SELECT count(*) FILTER (WHERE product_region_code IS NULL),
                   count(*) FILTER (WHERE product_region_code = ''),
                   count(*) FILTER (WHERE resource_tags IS NULL)
            FROM {SCHEMA}.{TABLE}""",
    )
    assert null_regions > 0
    assert empty_regions > 0
    assert 0.15 * ROWS < null_tags < 0.25 * ROWS
    assert (
        _one(
            generated,
            f"SELECT count(*) FROM {SCHEMA}.{TABLE} "
            "WHERE resource_tags IS NOT NULL AND json_typeof(resource_tags) <> 'object'",
        )
        == 0
    )


def test_a_few_descriptions_need_escaping(generated: connection) -> None:
    descriptions = [
        text
        for (text,) in _all(
            generated,
            f"SELECT line_item_line_item_description FROM {SCHEMA}.{TABLE} "
            "WHERE line_item_line_item_description ~ %s",
            ('[\\t\\n\\r\\\\"]|[^\\x01-\\x7e]',),
        )
    ]
    assert ROWS / 1000 < len(descriptions) < ROWS / 200
    joined = "".join(descriptions)
    for character in ("\t", "\n", "\\", '"', "é", "€", "東京", "🚀"):
        assert character in joined


def test_same_seed_same_bytes_whatever_the_split(
    source: connection, other_source: connection
) -> None:
    # Enough rows that two workers share the work in one database and one does it all in the
    # other: the contents must not depend on that.
    arguments = {"start": START, "days": 3, "rows": 60_000, "seed": 5}
    generate(source, SCHEMA, TABLE, **arguments, workers=2)
    generate(other_source, SCHEMA, TABLE, **arguments, workers=1)
    assert _one(source, TABLE_MD5) == _one(other_source, TABLE_MD5)

    restated = [
        restate_day(conn, SCHEMA, TABLE, START + datetime.timedelta(days=1), seed=3)
        for conn in (source, other_source)
    ]
    assert restated[0] == restated[1]
    assert _one(source, TABLE_MD5) == _one(other_source, TABLE_MD5)


def test_another_seed_other_rows(source: connection, other_source: connection) -> None:
    generate(source, SCHEMA, TABLE, start=START, days=2, rows=1_000, seed=1)
    generate(other_source, SCHEMA, TABLE, start=START, days=2, rows=1_000, seed=2)
    assert _one(source, TABLE_MD5) != _one(other_source, TABLE_MD5)


def test_separate_calls_never_share_a_key(source: connection) -> None:
    generate(source, SCHEMA, TABLE, start=START, days=5, rows=3_000, seed=1)
    generate(source, SCHEMA, TABLE, start=START, days=5, rows=3_000, seed=2)
    generate(source, SCHEMA, TABLE, start=START, days=5, rows=3_001, seed=1)
    generate(source, SCHEMA, TABLE, start=START + datetime.timedelta(days=2), days=5, rows=3_000)
    assert _one(source, f"SELECT count(*) FROM {SCHEMA}.{TABLE}") == 12_001
    _assert_keys_unique(source)


def test_only_the_open_month_lacks_invoice_ids(source: connection) -> None:
    open_month = datetime.date(2026, 10, 1)
    generate(
        source,
        SCHEMA,
        TABLE,
        start=datetime.date(2026, 9, 21),
        days=20,
        rows=4_000,
        open_month_from=open_month,
    )
    invoices = _all(
        source,
        f"""SELECT bill_billing_period_start_date::date, bill_payer_account_id,
                   count(*), count(DISTINCT bill_invoice_id), min(bill_invoice_id)
            FROM {SCHEMA}.{TABLE} GROUP BY 1, 2 ORDER BY 1, 2""",
    )
    assert {period for period, *_ in invoices} == {datetime.date(2026, 9, 1), open_month}
    for period, _payer, rows, distinct, invoice in invoices:
        assert rows > 0
        # One invoice per payer and closed month; none at all in the open month.
        assert distinct == 1
        assert (invoice == "") == (period >= open_month)
        assert invoice is not None


def test_restating_a_day_touches_that_day_only(generated: connection) -> None:
    day = START + datetime.timedelta(days=4)
    days_before = dict(_all(generated, DAY_MD5))
    before = _day_rows(generated, day)
    newest = _one(generated, f"SELECT max(updated_at) FROM {SCHEMA}.{TABLE}")

    counts = restate_day(generated, SCHEMA, TABLE, day)

    after = _day_rows(generated, day)
    removed = before.keys() - after.keys()
    added = after.keys() - before.keys()
    changed = {key for key in before.keys() & after.keys() if before[key] != after[key]}
    assert counts == {"removed": len(removed), "changed": len(changed), "added": len(added)}
    assert len(removed) == round(0.05 * len(before))
    assert len(changed) == round(0.05 * (len(before) - len(removed)))
    assert len(added) == 3

    redelivered = newest + datetime.timedelta(hours=1)
    for key in changed:
        old, new = before[key], after[key]
        assert {column for column in old if old[column] != new[column]} <= COST_COLUMNS | {
            "updated_at"
        }
        assert datetime.datetime.fromisoformat(new["updated_at"]) == redelivered
        if old["line_item_unblended_cost"] != 0:
            factor = new["line_item_unblended_cost"] / old["line_item_unblended_cost"]
            assert factor != 1
            assert Decimal("0.79") < factor < Decimal("1.21")
    for key in added:
        credit = after[key]
        assert credit["line_item_line_item_type"] == "Credit"
        assert credit["line_item_unblended_cost"] < 0
        assert datetime.datetime.fromisoformat(credit["updated_at"]) == redelivered

    days_after = dict(_all(generated, DAY_MD5))
    assert days_after.keys() == days_before.keys()
    assert {d for d in days_before if days_before[d] != days_after[d]} == {day}
    _assert_keys_unique(generated)


def test_restating_again_adds_new_keys(generated: connection) -> None:
    day = START + datetime.timedelta(days=2)
    for _ in range(3):
        assert restate_day(generated, SCHEMA, TABLE, day, late_credits=5)["added"] == 5
    _assert_keys_unique(generated)
    assert restate_day(generated, SCHEMA, TABLE, START - datetime.timedelta(days=1)) == {
        "removed": 0,
        "changed": 0,
        "added": 0,
    }


def test_json_serialize_gives_the_tags_as_text(generated: connection) -> None:
    install_redshift_shims(generated)  # a second time: must be harmless
    serialized = _all(
        generated,
        f"SELECT resource_tags::text, JSON_SERIALIZE(resource_tags) FROM {SCHEMA}.{TABLE}",
    )
    assert any(text is None for text, _ in serialized)
    assert any(text is not None and "José" in text for text, _ in serialized)
    for text, redshift_text in serialized:
        assert redshift_text == text
        # Compact, as Redshift writes SUPER.
        assert text is None or ('": ' not in text and '", ' not in text)


@pytest.mark.parametrize(
    "arguments",
    [{"remove_fraction": 1.5}, {"change_fraction": -0.1}, {"late_credits": -1}],
)
def test_nonsense_restatements_are_refused(source: connection, arguments: dict) -> None:
    with pytest.raises(ValueError):
        restate_day(source, SCHEMA, TABLE, START, **arguments)


@pytest.mark.parametrize(
    "arguments",
    [{"days": 0, "rows": 10}, {"days": 1, "rows": -1}, {"days": 1, "rows": 10, "workers": 0}],
)
def test_nonsense_arguments_are_refused(source: connection, arguments: dict) -> None:
    with pytest.raises(ValueError):
        generate(source, SCHEMA, TABLE, start=START, **arguments)
