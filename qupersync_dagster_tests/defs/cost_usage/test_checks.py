"""The asset checks judge the real mirror: edits behind the sync's back must make them fail."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import dagster as dg
import pytest

from qupersync_dagster.definitions import build_definitions
from qupersync_dagster.defs.cost_usage.schedules import partition_tags
from qupersync_dagster.devkit.cur_data import Money
from qupersync_dagster.infrastructure.table_list import load_table_list
from qupersync_dagster_tests.defs.cost_usage.conftest import SOURCE_TABLE, TABLE, TARGET_TABLE
from qupersync_dagster_tests.tables import float_measure_units, scalar

pytestmark = pytest.mark.integration

RECONCILED = dg.AssetCheckKey(dg.AssetKey(TABLE), "reconciled_with_source")
PRIMARY_KEY = dg.AssetCheckKey(dg.AssetKey(TABLE), "primary_key_unique_not_null")
FRESHNESS = dg.AssetCheckKey(dg.AssetKey(TABLE), "freshness")

DAY_TOTALS = (
    "SELECT {what} FROM {table}"
    " WHERE line_item_usage_start_date >= %s AND line_item_usage_start_date < %s"
)


def _evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


@pytest.fixture
def run_checks(defs, resources):
    """Run the table's checks alone (no sync) over a range of partitions."""
    job = dg.define_asset_job(
        "checks_only", selection=dg.AssetSelection.checks(RECONCILED, PRIMARY_KEY, FRESHNESS)
    )
    with_checks = dg.Definitions.merge(defs, dg.Definitions(jobs=[job]))

    def run(first, last) -> dict[str, dg.AssetCheckEvaluation]:
        result = with_checks.resolve_job_def("checks_only").execute_in_process(
            resources=resources, tags=partition_tags(first, last)
        )
        assert result.success
        return _evaluations(result)

    return run


def _day_totals(server, database: str, table: str, day, money: Money) -> tuple[int, Decimal]:
    """Row count and measure sum of ``day``: the exact SUM, or for float costs the float rule."""
    window = (day, day + timedelta(days=1))
    count = scalar(server, database, DAY_TOTALS.format(what="COUNT(*)", table=table), window)
    if money is Money.DOUBLE:
        costs = scalar(
            server,
            database,
            DAY_TOTALS.format(what="array_agg(line_item_unblended_cost)", table=table),
            window,
        )
        return count, Decimal(float_measure_units(costs))
    total = scalar(
        server,
        database,
        DAY_TOTALS.format(what="SUM(line_item_unblended_cost)", table=table),
        window,
    )
    return count, total


def test_every_asset_has_its_checks(tmp_path):
    path = tmp_path / "tables.yaml"
    common = "partition_column: line_item_usage_start_date\n    start_date: '2026-08-01'"
    path.write_text(
        f"""
tables:
  - name: keyed_replace
    source: billing.a
    target: cost.a
    {common}
    primary_key: [identity_line_item_id]
  - name: upserted
    source: billing.b
    target: cost.b
    {common}
    mode: upsert
    primary_key: [identity_line_item_id, identity_time_interval]
  - name: keyless_replace
    source: billing.c
    target: cost.c
    {common}
summary:
  from_table: upserted
  target: cost.summary
"""
    )
    defs = build_definitions(load_table_list(path))
    graph = defs.resolve_asset_graph()
    checks: dict[str, dict[str, dg.AssetCheckSpec]] = {}
    for key in graph.asset_check_keys:
        checks.setdefault(key.asset_key.to_user_string(), {})[key.name] = graph.get_check_spec(key)

    everywhere = {
        "schema_matches",
        "reconciled_with_source",
        "freshness",
        "column_schema_change",
    }
    assert set(checks) == {"keyed_replace", "upserted", "keyless_replace"}
    assert set(checks["keyed_replace"]) == everywhere | {"primary_key_unique_not_null"}
    assert set(checks["upserted"]) == everywhere | {"primary_key_unique_not_null"}
    assert set(checks["keyless_replace"]) == everywhere
    for name, specs in checks.items():
        asset_partitions = defs.resolve_assets_def(name).partitions_def
        assert specs["schema_matches"].blocking
        assert not any(s.blocking for check, s in specs.items() if check != "schema_matches")
        assert specs["reconciled_with_source"].partitions_def == asset_partitions
        assert specs["freshness"].partitions_def is None
        if "primary_key_unique_not_null" in specs:
            assert specs["primary_key_unique_not_null"].partitions_def == asset_partitions


@pytest.mark.parametrize("money", [Money.NUMERIC, Money.DOUBLE])
def test_reconciled_passes_after_a_sync_and_fails_when_a_target_cost_is_edited(
    sync, run_checks, days, pg_server, source_db, target_db, target_conn, money
):
    day = days[1]
    checks = _evaluations(sync(day, day))
    expected_rows, expected_sum = _day_totals(pg_server, source_db, SOURCE_TABLE, day, money)
    assert expected_rows > 0
    reconciled = checks["reconciled_with_source"]
    assert reconciled.passed and reconciled.partition == day.isoformat()
    sides = reconciled.metadata["days"].value[day.isoformat()]
    assert sides["source_rows"] == sides["target_rows"] == expected_rows
    assert Decimal(sides["source_sum"]) == Decimal(sides["target_sum"]) == expected_sum

    with target_conn.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TARGET_TABLE} SET line_item_unblended_cost = line_item_unblended_cost"
            " + 0.0000000001 WHERE identity_line_item_id = (SELECT min(identity_line_item_id)"
            f" FROM {TARGET_TABLE} WHERE line_item_usage_start_date >= %s"
            " AND line_item_usage_start_date < %s)",
            (day, day + timedelta(days=1)),
        )
        assert cursor.rowcount == 1
    edited_rows, edited_sum = _day_totals(pg_server, target_db, TARGET_TABLE, day, money)

    reconciled = run_checks(day, day)["reconciled_with_source"]
    assert not reconciled.passed
    assert reconciled.severity is dg.AssetCheckSeverity.ERROR
    assert reconciled.metadata["mismatched_days"].value == [day.isoformat()]
    sides = reconciled.metadata["days"].value[day.isoformat()]
    assert sides["source_rows"] == sides["target_rows"] == edited_rows == expected_rows
    assert Decimal(sides["source_sum"]) == expected_sum
    assert Decimal(sides["target_sum"]) == edited_sum
    # A ten-billionth of a currency unit: exactly that in decimals; as a float, about 110 units
    # of 2^-40 (1e-10 * 2^40 = 109.95), give or take the rounding of the edited float.
    assert Decimal(sides["sum_difference"]) == edited_sum - expected_sum
    if money is Money.NUMERIC:
        assert edited_sum - expected_sum == Decimal("1E-10")
    else:
        assert 108 <= edited_sum - expected_sum <= 111


def test_reconciled_in_the_run_of_the_sync_compares_what_that_sync_read_with_no_new_query(
    sync, run_checks, days
):
    first, last = days[0], days[2]
    in_the_run = _evaluations(sync(first, last))["reconciled_with_source"]
    on_its_own = run_checks(first, last)["reconciled_with_source"]

    assert in_the_run.passed and on_its_own.passed
    assert in_the_run.metadata["fingerprints_read_by"].value == "this run's sync"
    assert on_its_own.metadata["fingerprints_read_by"].value == "this check"
    for name in ("days", "source_rows", "target_rows", "mismatched_days"):
        assert in_the_run.metadata[name].value == on_its_own.metadata[name].value


def test_in_the_run_of_the_sync_a_day_it_left_alone_is_read_from_the_table(
    sync, run_checks, days, target_conn
):
    unchanged, rewritten = days[0], days[1]
    sync(unchanged, unchanged)
    with target_conn.cursor() as cursor:  # an edit the sync state knows nothing of
        cursor.execute(
            f"DELETE FROM {TARGET_TABLE} WHERE identity_line_item_id = (SELECT"
            f" min(identity_line_item_id) FROM {TARGET_TABLE} WHERE line_item_usage_start_date"
            " >= %s AND line_item_usage_start_date < %s)",
            (unchanged, unchanged + timedelta(days=1)),
        )
        assert cursor.rowcount == 1

    result = sync(unchanged, rewritten)
    in_the_run = _evaluations(result)["reconciled_with_source"]
    on_its_own = run_checks(unchanged, rewritten)["reconciled_with_source"]

    outcomes = {
        m.partition: m.metadata["outcome"].value
        for m in result.asset_materializations_for_node(TABLE)
    }
    assert outcomes == {unchanged.isoformat(): "unchanged", rewritten.isoformat(): "synced"}
    assert in_the_run.metadata["fingerprints_read_by"].value == "this run's sync"
    assert in_the_run.metadata["mismatched_days"].value == [unchanged.isoformat()]
    for name in ("days", "source_rows", "target_rows", "mismatched_days"):
        assert in_the_run.metadata[name].value == on_its_own.metadata[name].value


def test_reconciled_over_a_range_flags_a_missing_day_and_passes_a_day_empty_on_both_sides(
    sync, run_checks, days, recent_source, target_conn
):
    sync(days[0], days[2])
    emptied, missing = days[1], days[2]
    delete = (
        "DELETE FROM {table} WHERE line_item_usage_start_date >= %s"
        " AND line_item_usage_start_date < %s"
    )
    with recent_source, recent_source.cursor() as cursor:
        cursor.execute(delete.format(table=SOURCE_TABLE), (emptied, emptied + timedelta(days=1)))
    with target_conn.cursor() as cursor:
        cursor.execute(delete.format(table=TARGET_TABLE), (emptied, missing + timedelta(days=1)))

    reconciled = run_checks(days[0], days[2])["reconciled_with_source"]
    assert not reconciled.passed
    assert reconciled.partition is None  # a range run: one evaluation for the whole range
    assert reconciled.metadata["window"].value == f"[{days[0]}, {days[3]})"
    assert reconciled.metadata["mismatched_days"].value == [missing.isoformat()]
    compared = reconciled.metadata["days"].value
    assert sorted(compared) == [days[0].isoformat(), missing.isoformat()]
    assert compared[missing.isoformat()]["target_rows"] == 0
    assert compared[missing.isoformat()]["source_rows"] > 0
    assert compared[days[0].isoformat()]["matches"]


def test_primary_key_check_finds_duplicate_and_null_keys(
    sync, run_checks, days, pg_server, source_db, target_conn
):
    day = days[2]
    checks = _evaluations(sync(day, day))
    expected_rows = scalar(
        pg_server,
        source_db,
        DAY_TOTALS.format(what="COUNT(*)", table=SOURCE_TABLE),
        (day, day + timedelta(days=1)),
    )
    key_check = checks["primary_key_unique_not_null"]
    assert key_check.passed
    assert key_check.metadata["rows"].value == expected_rows
    assert key_check.metadata["duplicate_keys"].value == 0
    # The table's primary key is the key: the rows the sync counted afterwards are the answer.
    assert key_check.metadata["rows_counted_by"].value == "this run's sync"
    on_its_own = run_checks(day, day)["primary_key_unique_not_null"]
    assert on_its_own.passed and on_its_own.metadata["rows"].value == expected_rows
    assert on_its_own.metadata["rows_counted_by"].value == "this check"

    # A mirror whose key constraint was dropped (or never made) can take duplicates.
    with target_conn.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {TARGET_TABLE} DROP CONSTRAINT cur_line_items_pkey")
        cursor.execute(
            f"INSERT INTO {TARGET_TABLE} SELECT * FROM {TARGET_TABLE}"
            " WHERE line_item_usage_start_date >= %s AND line_item_usage_start_date < %s"
            " ORDER BY identity_line_item_id LIMIT 1",
            (day, day + timedelta(days=1)),
        )
    key_check = run_checks(day, day)["primary_key_unique_not_null"]
    assert not key_check.passed
    assert key_check.metadata["duplicate_keys"].value == 1
    assert key_check.metadata["duplicate_rows"].value == 1
    assert key_check.metadata["null_key_rows"].value == 0
    assert key_check.metadata["rows"].value == expected_rows + 1

    with target_conn.cursor() as cursor:
        cursor.execute(
            f"ALTER TABLE {TARGET_TABLE} ALTER COLUMN identity_time_interval DROP NOT NULL"
        )
        cursor.execute(
            f"UPDATE {TARGET_TABLE} SET identity_time_interval = NULL"
            " WHERE identity_line_item_id = (SELECT max(identity_line_item_id) FROM"
            f" {TARGET_TABLE} WHERE line_item_usage_start_date >= %s"
            " AND line_item_usage_start_date < %s)",
            (day, day + timedelta(days=1)),
        )
    key_check = run_checks(day, day)["primary_key_unique_not_null"]
    assert not key_check.passed
    assert key_check.metadata["null_key_rows"].value == 1
    assert key_check.metadata["duplicate_keys"].value == 1


def test_before_any_sync_only_the_key_check_has_nothing_to_object_to(
    run_checks, recent_source, days
):
    checks = run_checks(days[0], days[1])
    reconciled = checks["reconciled_with_source"]
    assert not reconciled.passed
    assert reconciled.metadata["mismatched_days"].value == [d.isoformat() for d in days[:2]]
    assert reconciled.metadata["target_rows"].value == 0
    assert checks["primary_key_unique_not_null"].passed
    assert not checks["freshness"].passed
    assert checks["freshness"].metadata["latest_partition_synced"].value is None


def test_freshness_passes_once_today_is_synced(sync, today):
    freshness = _evaluations(sync(today, today))["freshness"]
    assert freshness.passed
    assert freshness.partition is None
    assert freshness.metadata["latest_partition_with_rows"].value == today.isoformat()
    assert freshness.metadata["age_days"].value == 0


def test_freshness_warns_when_the_latest_day_with_rows_is_older_than_the_lag(
    sync, spec, days, today, recent_source
):
    stale = today - timedelta(days=spec.freshness_lag_days + 1)
    assert stale in days
    # Today is synced too, but without rows (not delivered yet): that alone is not fresh data.
    with recent_source, recent_source.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {SOURCE_TABLE} WHERE line_item_usage_start_date > %s", (stale,)
        )
    sync(stale, stale)
    result = sync(today, today)

    freshness = _evaluations(result)["freshness"]
    assert not freshness.passed
    assert freshness.severity is dg.AssetCheckSeverity.WARN
    assert freshness.metadata["latest_partition_with_rows"].value == stale.isoformat()
    assert freshness.metadata["latest_partition_synced"].value == today.isoformat()
    assert freshness.metadata["age_days"].value == spec.freshness_lag_days + 1
