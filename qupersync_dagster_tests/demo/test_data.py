"""The demo's data: generated once, kept, topped up day by day, restated on request."""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from datetime import date, timedelta

import pytest

from qupersync_dagster.demo.data import (
    Databases,
    DayTotals,
    SeedResult,
    demo_table,
    demo_tables,
    history_start,
    restate,
    seed,
    write_table_list,
)
from qupersync_dagster.infrastructure.table_list import default_path, load_table_list

ROWS_PER_DAY = 30
TODAY = date(2026, 11, 26)
FIRST_DAY = date(2026, 8, 1)
SOURCE = "billing.cur_line_items"
_TYPES = f"SELECT DISTINCT line_item_line_item_type FROM {SOURCE}"


@pytest.mark.parametrize(
    ("today", "start"),
    [
        (date(2026, 11, 26), date(2026, 8, 1)),
        (date(2026, 11, 1), date(2026, 8, 1)),
        (date(2026, 3, 31), date(2025, 12, 1)),
        (date(2026, 1, 15), date(2025, 10, 1)),
    ],
)
def test_history_starts_three_whole_months_before_the_current_one(today, start):
    assert history_start(today) == start


def test_the_table_list_is_the_shipped_one_starting_on_the_first_generated_day(tmp_path):
    path = tmp_path / "tables.yaml"
    write_table_list(path, demo_table(), FIRST_DAY)
    written, shipped = load_table_list(path), load_table_list(default_path())
    assert [spec.start_date for spec in written.tables] == [FIRST_DAY] * len(shipped.tables)
    assert [dataclasses.replace(s, start_date=FIRST_DAY) for s in shipped.tables] == written.tables
    assert written.summary == shipped.summary


@pytest.fixture
def databases(pg_server):
    suffix = uuid.uuid4().hex[:10]
    names = Databases(f"qs_demo_src_{suffix}", f"qs_demo_tgt_{suffix}", f"qs_demo_dag_{suffix}")
    yield names
    for name in dataclasses.astuple(names):
        pg_server.drop_database(name)


def _rows(pg_server, database: str, query: str, params: tuple = ()) -> list[tuple]:
    with contextlib.closing(pg_server.connect(database)) as conn, conn.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


def _rows_per_day(pg_server, database: str) -> dict[date, int]:
    query = f"SELECT line_item_usage_start_date::date, count(*) FROM {SOURCE} GROUP BY 1"
    return dict(_rows(pg_server, database, query))


def _digest(pg_server, database: str, first: date, last: date, *, inside: bool = True) -> str:
    """An md5 over the ids and costs of the rows from ``first`` to ``last`` (or all others)."""
    window = "line_item_usage_start_date >= %s AND line_item_usage_start_date < %s::date + 1"
    query = (
        "SELECT md5(string_agg(identity_line_item_id || line_item_unblended_cost::text, ','"
        f" ORDER BY identity_line_item_id)) FROM {SOURCE}"
        f" WHERE {'' if inside else 'NOT '}({window})"
    )
    return _rows(pg_server, database, query, (first, last))[0][0]


@pytest.mark.integration
def test_the_first_start_generates_history_and_the_open_month(pg_server, databases):
    result = seed(pg_server, demo_table(), databases, today=TODAY, rows_per_day=ROWS_PER_DAY)

    days = [FIRST_DAY + timedelta(days=n) for n in range((TODAY - FIRST_DAY).days + 1)]
    assert _rows_per_day(pg_server, databases.source) == dict.fromkeys(days, ROWS_PER_DAY)
    total = len(days) * ROWS_PER_DAY
    assert result == SeedResult(FIRST_DAY, TODAY, len(days), total, total)

    invoices = _rows(
        pg_server,
        databases.source,
        f"SELECT bill_billing_period_start_date >= %s, bool_and(bill_invoice_id = ''),"
        f" bool_or(bill_invoice_id = '') FROM {SOURCE} GROUP BY 1 ORDER BY 1",
        (TODAY.replace(day=1),),
    )
    assert invoices == [(False, False, False), (True, True, True)]  # closed months, open month
    types = {t for (t,) in _rows(pg_server, databases.source, _TYPES)}
    assert {"Usage", "Tax", "Credit", "Refund", "Fee"} <= types
    # The target and Dagster's storage exist, empty, ready for dagster dev.
    for database in (databases.target, databases.dagster):
        assert _rows(pg_server, database, "SELECT count(*) FROM pg_stat_user_tables") == [(0,)]


@pytest.mark.integration
def test_a_restart_keeps_the_data_and_adds_only_the_days_since(pg_server, databases):
    spec = demo_table()
    seed(pg_server, spec, databases, today=TODAY, rows_per_day=ROWS_PER_DAY)
    kept = _digest(pg_server, databases.source, FIRST_DAY, TODAY)

    again = seed(pg_server, spec, databases, today=TODAY, rows_per_day=ROWS_PER_DAY)
    assert (again.days_added, again.rows_added) == (0, 0)
    assert _digest(pg_server, databases.source, FIRST_DAY, TODAY) == kept

    later = TODAY + timedelta(days=2)
    topped = seed(pg_server, spec, databases, today=later, rows_per_day=ROWS_PER_DAY)
    assert (topped.first_day, topped.last_day) == (FIRST_DAY, later)
    assert (topped.days_added, topped.rows_added) == (2, 2 * ROWS_PER_DAY)
    per_day = _rows_per_day(pg_server, databases.source)
    assert [per_day[TODAY + timedelta(days=n)] for n in (1, 2)] == [ROWS_PER_DAY] * 2
    assert _digest(pg_server, databases.source, FIRST_DAY, TODAY) == kept


@pytest.mark.integration
def test_restate_reports_exactly_what_changed_in_the_source(pg_server, databases):
    spec = demo_table()
    seed(pg_server, spec, databases, today=TODAY, rows_per_day=ROWS_PER_DAY)
    day = TODAY - timedelta(days=3)
    day_rows = (
        "SELECT identity_line_item_id || '/' || identity_time_interval,"
        f" line_item_unblended_cost::numeric FROM {SOURCE}"
        " WHERE line_item_usage_start_date >= %s AND line_item_usage_start_date < %s::date + 1"
    )
    before = dict(_rows(pg_server, databases.source, day_rows, (day, day)))
    other_days = _digest(pg_server, databases.source, day, day, inside=False)

    result = restate(pg_server, spec, databases.source, day)

    after = dict(_rows(pg_server, databases.source, day_rows, (day, day)))
    changed = {key for key in before.keys() & after.keys() if before[key] != after[key]}
    assert result.day == day
    assert result.removed == len(before.keys() - after.keys()) > 0
    assert result.added == len(after.keys() - before.keys()) > 0
    assert result.changed == len(changed) > 0
    assert result.before == DayTotals(len(before), sum(before.values()))
    assert result.after == DayTotals(len(after), sum(after.values()))
    assert _digest(pg_server, databases.source, day, day, inside=False) == other_days


@pytest.mark.integration
def test_restate_refuses_a_day_without_data(pg_server, databases):
    seed(pg_server, demo_table(), databases, today=TODAY, rows_per_day=1)
    with pytest.raises(ValueError, match="outside the demo's data"):
        restate(pg_server, demo_table(), databases.source, FIRST_DAY - timedelta(days=1))


@pytest.mark.integration
@pytest.mark.parametrize("name", ["focus_costs", "coh_recommendations"])
def test_every_shipped_table_is_seeded_from_the_same_first_day_and_restated(
    pg_server, databases, name
):
    spec = next(spec for spec in demo_tables() if spec.name == name)
    result = seed(pg_server, spec, databases, today=TODAY, rows_per_day=ROWS_PER_DAY)
    assert (result.first_day, result.last_day) == (FIRST_DAY, TODAY)
    again = seed(pg_server, spec, databases, today=TODAY, rows_per_day=ROWS_PER_DAY)
    assert (again.rows_added, again.rows_total) == (0, result.rows_total)

    day = TODAY - timedelta(days=3)
    restated = restate(pg_server, spec, databases.source, day)

    assert restated.removed + restated.changed + restated.added > 0
    assert restated.after.rows == restated.before.rows - restated.removed + restated.added
    assert restated.after.cost != restated.before.cost
