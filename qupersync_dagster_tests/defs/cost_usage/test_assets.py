"""A cost-usage asset materialises real partitions through the emulator into PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta

import dagster as dg
import pytest

from qupersync_dagster.definitions import build_definitions
from qupersync_dagster.infrastructure.table_list import load_table_list
from qupersync_dagster_tests.tables import day_digest, scalar

pytestmark = pytest.mark.integration

RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")


def _days(first: str, count: int) -> list[str]:
    start = date.fromisoformat(first)
    return [(start + timedelta(days=i)).isoformat() for i in range(count)]


@pytest.fixture
def defs(sync_env, table_list_file, cur_source):
    return build_definitions(load_table_list(table_list_file))


def _asset(defs, name):
    return defs.resolve_assets_def(name)


def _range_log(instance: dg.DagsterInstance, result) -> dict:
    """The range totals the asset logs once per run."""
    [line] = [
        entry.user_message
        for entry in instance.all_logs(result.run_id)
        if entry.user_message.startswith("cur_line_items: {")
    ]
    return json.loads(line.split(": ", 1)[1])


def test_one_partition_materialises_with_sync_metadata(defs, pg_server, sync_env):
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [_asset(defs, "cur_line_items")], partition_key="2026-10-03", instance=instance
    )
    assert result.success
    source = day_digest(
        pg_server, sync_env["REDSHIFT_DATABASE"], "billing.cur_line_items", "2026-10-03"
    )
    target = day_digest(
        pg_server, sync_env["POSTGRES_DATABASE"], "cost.cur_line_items", "2026-10-03"
    )
    assert source[0] > 0 and target == source

    materialization = result.asset_materializations_for_node("cur_line_items")[0]
    metadata = materialization.metadata
    assert metadata["dagster/row_count"].value == source[0]
    assert metadata["dagster/partition_row_count"].value == source[0]
    assert metadata["rows_extracted"].value == source[0]
    assert metadata["rows_inserted"].value == source[0]
    assert metadata["outcome"].value == "synced"
    totals = _range_log(instance, result)
    assert (totals["partitions_synced"], totals["partitions_unchanged"]) == (1, 0)
    # The sync's own time spans the day's load and the engine's work around it (connections,
    # pre-flight, fingerprints); the step's time adds the reads for the metadata.
    assert 0 < metadata["duration_s"].value <= totals["sync_s"] < totals["duration_s"]
    assert totals["rows_per_second"] == pytest.approx(source[0] / totals["sync_s"], rel=0.01)
    columns = [c.name for c in metadata["dagster/column_schema"].value.columns]
    assert "line_item_unblended_cost" in columns and "resource_tags" in columns
    assert "identity_line_item_id" in metadata["preview"].value
    assert metadata["fingerprint"].value["row_count"] == source[0]

    checks = result.get_asset_check_evaluations()
    assert [(c.check_name, c.passed) for c in checks] == [("schema_matches", True)]


def test_rematerialising_an_unchanged_partition_skips_it(defs, pg_server, sync_env):
    asset = _asset(defs, "cur_line_items")
    dg.materialize([asset], partition_key="2026-10-02")
    finished = scalar(
        pg_server,
        sync_env["POSTGRES_DATABASE"],
        "SELECT finished_at FROM qupersync.sync_state WHERE partition_key = %s",
        ("2026-10-02",),
    )
    again = dg.materialize([asset], partition_key="2026-10-02")
    metadata = again.asset_materializations_for_node("cur_line_items")[0].metadata
    assert metadata["outcome"].value == "unchanged"
    assert metadata["rows_extracted"].value == 0
    assert (
        scalar(
            pg_server,
            sync_env["POSTGRES_DATABASE"],
            "SELECT finished_at FROM qupersync.sync_state WHERE partition_key = %s",
            ("2026-10-02",),
        )
        == finished
    )


def test_a_seven_day_range_is_one_run_syncing_each_day(defs, pg_server, sync_env):
    days = _days("2026-10-01", 7)
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [_asset(defs, "cur_line_items")],
        instance=instance,
        tags=dict(zip(RANGE_TAGS, (days[0], days[-1]), strict=True)),
    )
    assert result.success
    assert len(instance.get_runs()) == 1
    materialized = sorted(
        m.partition for m in result.asset_materializations_for_node("cur_line_items")
    )
    assert materialized == days
    for day in days:
        assert day_digest(pg_server, sync_env["POSTGRES_DATABASE"], "cost.cur_line_items", day) == (
            day_digest(pg_server, sync_env["REDSHIFT_DATABASE"], "billing.cur_line_items", day)
        )
    outside = "2026-10-08"
    assert (
        day_digest(pg_server, sync_env["POSTGRES_DATABASE"], "cost.cur_line_items", outside)[0] == 0
    )
    states = scalar(
        pg_server,
        sync_env["POSTGRES_DATABASE"],
        "SELECT array_agg(partition_key ORDER BY partition_key) FROM qupersync.sync_state",
    )
    assert states == days


def test_a_drifted_table_fails_the_blocking_schema_check_with_nothing_written(
    defs, pg_server, sync_env, cur_source, table_list_file
):
    asset = _asset(defs, "cur_line_items")
    assert dg.materialize([asset], partition_key="2026-10-01").success
    before = day_digest(
        pg_server, sync_env["POSTGRES_DATABASE"], "cost.cur_line_items", "2026-10-02"
    )

    with cur_source.cursor() as cursor:
        cursor.execute("ALTER TABLE billing.cur_line_items ADD COLUMN cost_category varchar(64)")
        cursor.execute(
            "ALTER TABLE billing.cur_line_items ALTER COLUMN line_item_operation TYPE varchar(2048)"
        )
    cur_source.commit()
    table_list_file.write_text(
        table_list_file.read_text().replace(
            "    measure_column", "    schema_policy: fail\n    measure_column"
        )
    )
    strict = build_definitions(load_table_list(table_list_file))

    result = dg.materialize(
        [_asset(strict, "cur_line_items")],
        partition_key="2026-10-02",
        raise_on_error=False,
    )
    assert not result.success
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == "schema_matches" and not check.passed
    differences = check.metadata["differences"].value
    assert len(differences) == 2
    assert any("cost_category" in d for d in differences)
    assert any("line_item_operation" in d for d in differences)
    assert (
        day_digest(pg_server, sync_env["POSTGRES_DATABASE"], "cost.cur_line_items", "2026-10-02")
        == before
    )
    assert (
        scalar(
            pg_server, sync_env["POSTGRES_DATABASE"], "SELECT COUNT(*) FROM qupersync.sync_state"
        )
        == 1
    )


SUMMARY_OF_SOURCE = """
    SELECT md5(string_agg(concat_ws(',', d, a, p, r, t, c, u, n, o, q, k), '|'
                          ORDER BY d, a, p, r, t, c))
    FROM (
        SELECT CAST(line_item_usage_start_date AS date) AS d, line_item_usage_account_id AS a,
               line_item_product_code AS p, product_region_code AS r,
               line_item_line_item_type AS t, line_item_currency_code AS c,
               SUM(line_item_unblended_cost::numeric) AS u,
               SUM(line_item_net_unblended_cost::numeric) AS n,
               SUM(pricing_public_on_demand_cost::numeric) AS o,
               SUM(line_item_usage_amount::numeric) AS q,
               COUNT(*) AS k
        FROM {table} WHERE line_item_usage_start_date >= %s AND line_item_usage_start_date < %s
        GROUP BY 1, 2, 3, 4, 5, 6) AS s
"""

SUMMARY_OF_TARGET = """
    SELECT md5(string_agg(concat_ws(',', usage_date, usage_account_id, product_code, region,
                                    line_item_type, currency, unblended_cost,
                                    net_unblended_cost, public_on_demand_cost, usage_amount,
                                    line_count), '|'
                          ORDER BY usage_date, usage_account_id, product_code, region,
                                   line_item_type, currency))
    FROM cost.cost_usage_summary WHERE usage_date >= %s AND usage_date < %s
"""


def test_cli_range_backfill_syncs_and_summarises_to_the_cent(defs, pg_server, sync_env, tmp_path):
    env = dict(os.environ, DAGSTER_HOME=str(tmp_path))
    (tmp_path / "dagster.yaml").write_text("")
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "dagster",
            "asset",
            "materialize",
            "-m",
            "qupersync_dagster.definitions",
            "--select",
            "cur_line_items,cost_usage_summary",
            "--partition-range",
            "2026-10-01...2026-10-07",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert sync_env["REDSHIFT_PASSWORD"] not in completed.stdout + completed.stderr
    window = ("2026-10-01", "2026-10-08")
    expected = scalar(
        pg_server,
        sync_env["REDSHIFT_DATABASE"],
        SUMMARY_OF_SOURCE.format(table="billing.cur_line_items"),
        window,
    )
    assert expected is not None
    assert scalar(pg_server, sync_env["POSTGRES_DATABASE"], SUMMARY_OF_TARGET, window) == expected
    for day in _days("2026-10-01", 7):
        assert day_digest(pg_server, sync_env["POSTGRES_DATABASE"], "cost.cur_line_items", day) == (
            day_digest(pg_server, sync_env["REDSHIFT_DATABASE"], "billing.cur_line_items", day)
        )
