"""The Cost Optimization Hub generator against a real PostgreSQL: shape, determinism, churn."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator

import pytest
from psycopg2.extensions import connection

from qupersync_dagster.devkit.coh_data import (
    COH_COLUMNS,
    PRIMARY_KEY,
    create_source_table,
    generate,
    restate_day,
)
from qupersync_dagster.devkit.embedded import ServerAddress
from qupersync_dagster_tests.devkit.sql import one, rows, with_table

pytestmark = pytest.mark.integration

SCHEMA = "billing"
TABLE = "recommendations"
START = datetime.date(2026, 10, 1)
DAYS = 5
ROWS = 401
TABLE_MD5 = (
    f"SELECT md5(string_agg(t::text, E'\\n' ORDER BY recommendation_id)) FROM {SCHEMA}.{TABLE} t"
)


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


def _by_id(conn: connection, day: datetime.date) -> dict[str, dict]:
    found = rows(
        conn,
        f"SELECT to_jsonb(t)::text FROM {SCHEMA}.{TABLE} t WHERE first_seen_at::date = %s",
        (day,),
    )
    return {row["recommendation_id"]: row for row in (json.loads(text) for (text,) in found)}


def test_the_table_has_the_export_columns_keyed_by_recommendation(source: connection) -> None:
    columns = rows(
        source,
        "SELECT column_name, is_nullable FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        (SCHEMA, TABLE),
    )
    assert [name for name, _ in columns] == [name for name, _ in COH_COLUMNS]
    assert {name for name, nullable in columns if nullable == "NO"} == {
        *PRIMARY_KEY,
        "last_refresh_timestamp",
        "first_seen_at",
    }


def test_recommendations_look_real_and_have_unique_ids(generated: connection) -> None:
    total, distinct = one(
        generated, f"SELECT count(*), count(DISTINCT recommendation_id) FROM {SCHEMA}.{TABLE}"
    )
    assert total == distinct == ROWS
    per_day = dict(
        rows(generated, f"SELECT first_seen_at::date, count(*) FROM {SCHEMA}.{TABLE} GROUP BY 1")
    )
    assert len(per_day) == DAYS and max(per_day.values()) - min(per_day.values()) <= 1
    actions = {a for (a,) in rows(generated, f"SELECT DISTINCT action_type FROM {SCHEMA}.{TABLE}")}
    assert {"Rightsize", "Stop", "Delete", "PurchaseSavingsPlans", "MigrateToGraviton"} <= actions
    assert one(
        generated,
        f"SELECT bool_and(last_refresh_timestamp >= first_seen_at"
        f" AND estimated_monthly_savings_after_discount <= estimated_monthly_cost_after_discount"
        f" AND estimated_monthly_savings_after_discount > 0) FROM {SCHEMA}.{TABLE}",
    )
    details = [
        d for (d,) in rows(generated, f"SELECT current_resource_details FROM {SCHEMA}.{TABLE}")
    ]
    assert all(json.loads(d)["resourceType"] for d in details)


def test_same_seed_same_rows_another_seed_other_ids(
    source: connection, other_source: connection
) -> None:
    generate(source, SCHEMA, TABLE, start=START, days=DAYS, rows=100)
    generate(other_source, SCHEMA, TABLE, start=START, days=DAYS, rows=100)
    assert one(source, TABLE_MD5) == one(other_source, TABLE_MD5)
    generate(other_source, SCHEMA, TABLE, start=START, days=DAYS, rows=100, seed=43)
    assert (
        one(other_source, f"SELECT count(DISTINCT recommendation_id) FROM {SCHEMA}.{TABLE}") == 200
    )


def test_churn_refreshes_removes_and_adds_recommendations_of_that_day(
    generated: connection,
) -> None:
    day = START + datetime.timedelta(days=1)
    others = {d: _by_id(generated, d) for d in (START, START + datetime.timedelta(days=2))}
    before = _by_id(generated, day)
    newest = datetime.datetime.fromisoformat(
        one(generated, f"SELECT max(last_refresh_timestamp)::text FROM {SCHEMA}.{TABLE}")
    )

    counts = restate_day(generated, SCHEMA, TABLE, day)

    after = _by_id(generated, day)
    removed, added = before.keys() - after.keys(), after.keys() - before.keys()
    refreshed = {k for k in before.keys() & after.keys() if before[k] != after[k]}
    assert counts == {"removed": len(removed), "changed": len(refreshed), "added": len(added)}
    assert len(removed) == round(0.05 * len(before)) > 0
    assert len(refreshed) == round(0.2 * (len(before) - len(removed))) > 0
    assert len(added) == 3
    export = newest + datetime.timedelta(hours=1)
    for key in refreshed | added:
        assert datetime.datetime.fromisoformat(after[key]["last_refresh_timestamp"]) == export
    for key in refreshed:
        old, new = before[key], after[key]
        assert (
            new["estimated_monthly_savings_before_discount"]
            != old["estimated_monthly_savings_before_discount"]
        )
        assert new["first_seen_at"] == old["first_seen_at"]
    assert {d: _by_id(generated, d) for d in others} == others
    # Unchanged rows keep their watermark: a read above the old maximum finds exactly the churn.
    assert {
        k for (k,) in rows(
            generated,
            f"SELECT recommendation_id FROM {SCHEMA}.{TABLE} WHERE last_refresh_timestamp > %s",
            (newest,),
        )
    } == refreshed | added  # fmt: skip


def test_repeated_churn_never_reuses_an_id_and_empty_days_stay_empty(generated: connection) -> None:
    day = START + datetime.timedelta(days=3)
    for _ in range(3):
        assert restate_day(generated, SCHEMA, TABLE, day, new_recommendations=4)["added"] == 4
    total, distinct = one(
        generated, f"SELECT count(*), count(DISTINCT recommendation_id) FROM {SCHEMA}.{TABLE}"
    )
    assert total == distinct
    empty = START - datetime.timedelta(days=1)
    assert restate_day(generated, SCHEMA, TABLE, empty) == {"removed": 0, "changed": 0, "added": 0}


@pytest.mark.parametrize(
    "arguments",
    [{"remove_fraction": 2}, {"change_fraction": -0.5}, {"new_recommendations": -1}],
)
def test_nonsense_churn_is_refused(source: connection, arguments: dict) -> None:
    with pytest.raises(ValueError):
        restate_day(source, SCHEMA, TABLE, START, **arguments)
