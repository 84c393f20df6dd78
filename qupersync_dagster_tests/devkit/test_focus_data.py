"""The FOCUS 1.2 generator against a real PostgreSQL: shape, realism, determinism, restatements."""

from __future__ import annotations

import datetime
import json
from collections import Counter
from collections.abc import Iterator

import pytest
from psycopg2.extensions import connection

from qupersync_dagster.devkit.embedded import ServerAddress
from qupersync_dagster.devkit.focus_data import (
    COST_COLUMNS,
    FOCUS_COLUMNS,
    create_source_table,
    generate,
    restate_day,
)
from qupersync_dagster_tests.devkit.sql import one, rows, with_table

pytestmark = pytest.mark.integration

SCHEMA = "billing"
TABLE = "focus"
START = datetime.date(2026, 9, 28)
DAYS = 6
ROWS = 3_001
TABLE_MD5 = f"SELECT md5(string_agg(t::text, E'\\n' ORDER BY t::text)) FROM {SCHEMA}.{TABLE} t"
DAY_MD5 = f"""
SELECT chargeperiodstart::date, md5(string_agg(t::text, E'\\n' ORDER BY t::text))
FROM {SCHEMA}.{TABLE} t GROUP BY 1
"""


@pytest.fixture
def source(pg_server: ServerAddress, source_db: str) -> Iterator[connection]:
    yield from with_table(pg_server, source_db, create_source_table, SCHEMA, TABLE)


@pytest.fixture
def other_source(pg_server: ServerAddress, target_db: str) -> Iterator[connection]:
    yield from with_table(pg_server, target_db, create_source_table, SCHEMA, TABLE)


@pytest.fixture
def generated(source: connection) -> connection:
    assert generate(source, SCHEMA, TABLE, start=START, days=DAYS, rows=ROWS) == ROWS
    return source


def _day_rows(conn: connection, day: datetime.date) -> Counter:
    found = rows(
        conn,
        f"SELECT to_jsonb(t)::text FROM {SCHEMA}.{TABLE} t WHERE chargeperiodstart::date = %s",
        (day,),
    )
    return Counter(text for (text,) in found)


def test_the_table_has_lower_case_focus_columns_and_float_costs(source: connection) -> None:
    columns = rows(
        source,
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        (SCHEMA, TABLE),
    )
    assert [name for name, _ in columns] == [name for name, _ in FOCUS_COLUMNS]
    assert all(name == name.lower() for name, _ in columns)
    types = dict(columns)
    assert {types[c] for c in COST_COLUMNS} == {"double precision"}
    assert types["tags"] == "json"
    assert types["chargeperiodstart"] == "timestamp without time zone"


def test_rows_are_spread_evenly_over_hourly_charge_periods(generated: connection) -> None:
    per_day = dict(
        rows(
            generated, f"SELECT chargeperiodstart::date, count(*) FROM {SCHEMA}.{TABLE} GROUP BY 1"
        )
    )
    assert sorted(per_day) == [START + datetime.timedelta(days=d) for d in range(DAYS)]
    assert max(per_day.values()) - min(per_day.values()) <= 1
    assert one(
        generated,
        f"SELECT bool_and(chargeperiodend = chargeperiodstart + interval '1 hour'"
        f" AND date_trunc('hour', chargeperiodstart) = chargeperiodstart) FROM {SCHEMA}.{TABLE}",
    )


def test_the_data_looks_like_a_real_focus_export(generated: connection) -> None:
    categories = dict(
        rows(generated, f"SELECT chargecategory, count(*) FROM {SCHEMA}.{TABLE} GROUP BY 1")
    )
    assert set(categories) == {"Usage", "Tax", "Credit", "Purchase", "Adjustment"}
    assert categories["Usage"] > 0.8 * ROWS
    # Credits are negative; commitment-covered usage is billed 0 but has an effective cost.
    assert (
        one(
            generated,
            f"SELECT max(billedcost) FROM {SCHEMA}.{TABLE} WHERE chargecategory = 'Credit'",
        )
        < 0
    )
    covered = rows(
        generated,
        f"SELECT billedcost, effectivecost, listcost FROM {SCHEMA}.{TABLE}"
        " WHERE pricingcategory = 'Committed'",
    )
    assert covered and all(b == 0 and 0 < e < lc for b, e, lc in covered)
    assert one(generated, f"SELECT count(DISTINCT servicename) FROM {SCHEMA}.{TABLE}") >= 8
    assert one(generated, f"SELECT count(DISTINCT subaccountid) FROM {SCHEMA}.{TABLE}") == 6
    tags = [t for (t,) in rows(generated, f"SELECT tags::text FROM {SCHEMA}.{TABLE}")]
    assert any(t is None for t in tags)
    assert any(t is not None and "user:Team" in t for t in tags)
    assert all(t is None or ('": ' not in t and isinstance(json.loads(t), dict)) for t in tags)


def test_same_seed_same_rows_another_seed_other_rows(
    source: connection, other_source: connection
) -> None:
    generate(source, SCHEMA, TABLE, start=START, days=DAYS, rows=500)
    generate(other_source, SCHEMA, TABLE, start=START, days=DAYS, rows=500)
    assert one(source, TABLE_MD5) == one(other_source, TABLE_MD5)
    other_source.cursor().execute(f"TRUNCATE {SCHEMA}.{TABLE}")
    other_source.commit()
    generate(other_source, SCHEMA, TABLE, start=START, days=DAYS, rows=500, seed=43)
    assert one(source, TABLE_MD5) != one(other_source, TABLE_MD5)


def test_an_open_month_has_no_invoice_ids(source: connection) -> None:
    generate(
        source, SCHEMA, TABLE, start=START, days=DAYS, rows=600,
        open_month_from=datetime.date(2026, 10, 1),
    )  # fmt: skip
    invoices = rows(
        source,
        f"SELECT billingperiodstart::date, count(DISTINCT invoiceid), count(invoiceid)"
        f" FROM {SCHEMA}.{TABLE} GROUP BY 1 ORDER BY 1",
    )
    assert [(str(p), d, c > 0) for p, d, c in invoices] == [
        ("2026-09-01", 1, True),
        ("2026-10-01", 0, False),
    ]


def test_restating_a_day_removes_changes_and_adds_on_that_day_only(generated: connection) -> None:
    day = START + datetime.timedelta(days=2)
    days_before = dict(rows(generated, DAY_MD5))
    before = _day_rows(generated, day)

    counts = restate_day(generated, SCHEMA, TABLE, day)

    after = _day_rows(generated, day)
    gone, new = before - after, after - before
    size = sum(before.values())
    removed = round(0.05 * size)
    changed = round(0.05 * (size - removed))
    assert counts == {"removed": removed, "changed": changed, "added": 3}
    assert sum(gone.values()) == removed + changed
    assert sum(new.values()) == changed + 3
    credits = [json.loads(text) for text in new if json.loads(text)["chargeclass"] == "Correction"]
    late = [c for c in credits if c["chargedescription"].startswith("AWS service credit (late")]
    assert len(late) == 3 and all(c["billedcost"] < 0 and c["listcost"] == 0 for c in late)
    days_after = dict(rows(generated, DAY_MD5))
    assert {d for d in days_before if days_before[d] != days_after[d]} == {day}


def test_a_day_without_rows_stays_empty(generated: connection) -> None:
    empty = START - datetime.timedelta(days=1)
    assert restate_day(generated, SCHEMA, TABLE, empty) == {"removed": 0, "changed": 0, "added": 0}


@pytest.mark.parametrize(
    "arguments", [{"remove_fraction": 1.5}, {"change_fraction": -0.1}, {"late_credits": -1}]
)
def test_nonsense_restatements_are_refused(source: connection, arguments: dict) -> None:
    with pytest.raises(ValueError):
        restate_day(source, SCHEMA, TABLE, START, **arguments)


@pytest.mark.parametrize("arguments", [{"days": 0, "rows": 10}, {"days": 1, "rows": -1}])
def test_nonsense_arguments_are_refused(source: connection, arguments: dict) -> None:
    with pytest.raises(ValueError):
        generate(source, SCHEMA, TABLE, start=START, **arguments)
