"""A backfill of many days in one run records, on each day, that day's own numbers.

Every figure is checked against the source, read directly, day by day.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import NamedTuple

import dagster as dg
import pytest

from qupersync_dagster.definitions import build_definitions
from qupersync_dagster.infrastructure.table_list import load_table_list
from qupersync_dagster_tests.repositories import staging_settings

pytestmark = pytest.mark.integration

RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
FIRST = date(2026, 10, 1)
DAYS = [(FIRST + timedelta(days=i)).isoformat() for i in range(7)]
VARIES = {"duration_s"}
"""The only per-day entry that differs between two runs of the same unchanged day."""

# Costs are summed as the summary documents it: each float cast to numeric, then added exactly.
SOURCE_DAYS = """
    SELECT CAST(line_item_usage_start_date AS date)::text, COUNT(*),
           CAST(SUM(CAST(line_item_unblended_cost AS numeric)) AS text),
           CAST(SUM(CAST(line_item_net_unblended_cost AS numeric)) AS text),
           array_agg(line_item_unblended_cost)
    FROM billing.cur_line_items
    WHERE line_item_usage_start_date >= %s AND line_item_usage_start_date < %s
    GROUP BY 1
"""

COSTLIEST_SERVICE = """
    SELECT line_item_product_code, CAST(SUM(CAST(line_item_unblended_cost AS numeric)) AS text)
    FROM billing.cur_line_items
    WHERE line_item_usage_start_date >= %s::date AND line_item_usage_start_date < %s::date + 1
    GROUP BY 1 ORDER BY SUM(CAST(line_item_unblended_cost AS numeric)) DESC LIMIT 1
"""


class SourceDay(NamedTuple):
    rows: int
    unblended: Decimal
    net: Decimal
    fingerprint_sum: int
    """The float fingerprint's sum: each cost truncated to whole units of 2^-40, added."""


def _units(cost: float) -> int:
    units = math.floor(abs(Fraction(cost)) * 2**40)
    return -units if cost < 0 else units


def _query(server, database: str, query: str, params: tuple) -> list[tuple]:
    with contextlib.closing(server.connect(database)) as conn, conn.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


def _source_days(server, database: str) -> dict[str, SourceDay]:
    end = FIRST + timedelta(days=len(DAYS))
    rows = _query(server, database, SOURCE_DAYS, (FIRST, end))
    return {
        day: SourceDay(count, Decimal(u), Decimal(n), sum(_units(c) for c in costs))
        for day, count, u, n, costs in rows
    }


def _delete_rows(conn, day: str, count: int) -> None:
    """Delete ``count`` of the source's rows of ``day``."""
    with conn.cursor() as cursor:
        cursor.execute(
            "DELETE FROM billing.cur_line_items WHERE identity_line_item_id IN ("
            " SELECT identity_line_item_id FROM billing.cur_line_items"
            " WHERE line_item_usage_start_date >= %s::date"
            " AND line_item_usage_start_date < %s::date + 1 LIMIT %s)",
            (day, day, count),
        )
    conn.commit()


@pytest.fixture
def assets(sync_env, table_list_file, cur_source):
    """The line items and their summary, over a source whose days hold different row counts."""
    for index, day in enumerate(DAYS):
        _delete_rows(cur_source, day, 3 * index)
    defs = build_definitions(load_table_list(table_list_file))
    return [
        defs.resolve_assets_def("cur_line_items"),
        defs.resolve_assets_def("cost_usage_summary"),
    ]


def _backfill(assets, first: str, last: str) -> dict[str, dict[str, dict]]:
    """Materialise ``first..last`` in one run; each asset's metadata by partition."""
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        assets, instance=instance, tags=dict(zip(RANGE_TAGS, (first, last), strict=True))
    )
    assert result.success
    assert len(instance.get_runs()) == 1
    return {
        name: {
            m.partition: {k: v.value for k, v in m.metadata.items()}
            for m in result.asset_materializations_for_node(name)
        }
        for name in ("cur_line_items", "cost_usage_summary")
    }


def test_each_day_of_a_backfill_records_its_own_rows_counts_and_fingerprint(
    assets, pg_server, sync_env
):
    source = _source_days(pg_server, sync_env["REDSHIFT_DATABASE"])
    by_day = _backfill(assets, DAYS[0], DAYS[-1])["cur_line_items"]

    assert sorted(by_day) == DAYS
    assert len({source[day].rows for day in DAYS}) == len(DAYS)
    for day in DAYS:
        rows = source[day].rows
        metadata = by_day[day]
        assert metadata["dagster/row_count"] == metadata["dagster/partition_row_count"] == rows
        assert metadata["rows_extracted"] == metadata["rows_inserted"] == rows
        assert (metadata["rows_updated"], metadata["rows_deleted"]) == (0, 0)
        assert metadata["outcome"] == "synced"
        assert metadata["fingerprint"]["row_count"] == rows
        assert int(metadata["fingerprint"]["measure_sum"]) == source[day].fingerprint_sum
        assert "identity_line_item_id" in metadata["preview"]
        assert not any(key.startswith("partitions_") for key in metadata)
        assert metadata["extract_method"] == "cursor"
        assert metadata["extract_reason"] == "auto: no S3 staging configured"
        assert (metadata["bytes_staged"], metadata["files_staged"]) == (0, 0)


def _with_threshold(mb: int) -> list[dg.AssetsDefinition]:
    """The line items (with ``unload_above_mb`` at ``mb``) and their summary."""
    config = load_table_list()
    spec = replace(config.table("cur_line_items"), unload_above_mb=mb)
    defs = build_definitions(replace(config, tables=[spec]))
    return [defs.resolve_assets_def(name) for name in ("cur_line_items", "cost_usage_summary")]


def test_auto_unloads_days_above_the_threshold_reads_smaller_ones_by_cursor_and_says_so(
    assets, pg_server, sync_env, s3_emulator, local_s3, monkeypatch
):
    """S3 staging on, each day about 0.2 MB: above a 0 MB threshold, within a 1 MB one."""
    monkeypatch.setenv("REDSHIFT_PORT", str(s3_emulator.port))
    for name, value in staging_settings(local_s3).items():
        monkeypatch.setenv(f"REDSHIFT_{name.upper()}", str(value))
    source = _source_days(pg_server, sync_env["REDSHIFT_DATABASE"])

    unloaded = _backfill(_with_threshold(0), DAYS[0], DAYS[1])["cur_line_items"]
    by_cursor = _backfill(_with_threshold(1), DAYS[2], DAYS[2])["cur_line_items"][DAYS[2]]

    for day in DAYS[:2]:
        metadata = unloaded[day]
        assert metadata["extract_method"] == "unload"
        assert metadata["extract_reason"].endswith("MB estimated, above 0 MB")
        assert metadata["files_staged"] >= 1 and metadata["bytes_staged"] > 0
        assert metadata["dagster/row_count"] == metadata["rows_inserted"] == source[day].rows
    assert by_cursor["extract_method"] == "cursor"
    assert by_cursor["extract_reason"].endswith("MB estimated, within 1 MB")
    assert (by_cursor["files_staged"], by_cursor["bytes_staged"]) == (0, 0)
    assert by_cursor["dagster/row_count"] == source[DAYS[2]].rows
    assert local_s3.client().list_objects_v2(Bucket=local_s3.bucket).get("KeyCount") == 0


def test_a_restated_day_is_the_only_one_synced_and_keeps_its_own_counts(
    assets, pg_server, sync_env, cur_source
):
    _backfill(assets, DAYS[0], DAYS[-1])
    restated = DAYS[3]
    _delete_rows(cur_source, restated, 7)
    source = _source_days(pg_server, sync_env["REDSHIFT_DATABASE"])

    by_day = _backfill(assets, DAYS[0], DAYS[-1])["cur_line_items"]

    for day in DAYS:
        metadata = by_day[day]
        assert metadata["dagster/row_count"] == source[day].rows
        if day == restated:
            assert metadata["outcome"] == "synced"
            assert metadata["rows_extracted"] == source[day].rows
            assert metadata["rows_inserted"] - metadata["rows_deleted"] == -7
        else:
            assert metadata["outcome"] == "unchanged"
            assert metadata["rows_extracted"] == metadata["rows_deleted"] == 0
            assert "preview" not in metadata


def test_a_days_metadata_does_not_depend_on_the_range_it_ran_in(assets):
    _backfill(assets, DAYS[0], DAYS[-1])
    day = DAYS[2]

    in_a_week = _backfill(assets, DAYS[0], DAYS[-1])["cur_line_items"][day]
    alone = _backfill(assets, day, day)["cur_line_items"][day]

    assert in_a_week.keys() == alone.keys()
    assert {k: v for k, v in in_a_week.items() if k not in VARIES} == {
        k: v for k, v in alone.items() if k not in VARIES
    }


def test_each_summary_day_records_its_own_cost_lines_and_costliest_service(
    assets, pg_server, sync_env
):
    source = _source_days(pg_server, sync_env["REDSHIFT_DATABASE"])
    by_day = _backfill(assets, DAYS[0], DAYS[-1])["cost_usage_summary"]

    assert sorted(by_day) == DAYS
    for day in DAYS:
        rows, unblended, net, _ = source[day]
        metadata = by_day[day]
        assert metadata["line_count"] == rows
        assert metadata["unblended_cost"] == float(unblended)
        assert metadata["net_unblended_cost"] == float(net)
        assert metadata["dagster/partition_row_count"] == metadata["dagster/row_count"] > 0
        [(service, cost)] = _query(
            pg_server, sync_env["REDSHIFT_DATABASE"], COSTLIEST_SERVICE, (day, day)
        )
        top = metadata["top_services"].records[0].data
        assert (top["product_code"], Decimal(top["unblended_cost"])) == (service, Decimal(cost))
