"""The three tables of the shipped example, materialised through their Dagster jobs.

What the demo shows a user: each table's sync job (asset and checks, and the summary for the line
items) materialises a day, every check passes, and after Cost Optimization Hub re-delivers a day,
the recommendations' next run reports the rows updated by watermark and the deletions reconciled.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from qupersync_dagster.definitions import build_definitions
from qupersync_dagster.defs.cost_usage.schedules import partition_tags
from qupersync_dagster.devkit import coh_data, cur_data, focus_data
from qupersync_dagster.infrastructure.table_list import TableList, default_path, load_table_list
from qupersync_dagster_tests.tables import scalar

pytestmark = pytest.mark.integration

DAYS = 3
GENERATORS = {
    "cur_line_items": (cur_data, 300),
    "focus_costs": (focus_data, 300),
    "coh_recommendations": (coh_data, 90),
}


@pytest.fixture
def first_day():
    return datetime.now(UTC).date() - timedelta(days=DAYS - 1)


@pytest.fixture
def defs(sync_env, pg_server, source_db, first_day) -> dg.Definitions:
    shipped = load_table_list(default_path())
    tables = [replace(spec, start_date=first_day) for spec in shipped.tables]
    with contextlib.closing(pg_server.connect(source_db)) as conn:
        for spec in tables:
            module, rows = GENERATORS[spec.name]
            module.create_source_table(conn, spec.source.schema, spec.source.name)
            module.generate(
                conn, spec.source.schema, spec.source.name, start=first_day, days=DAYS, rows=rows
            )
    return build_definitions(TableList(tables, shipped.summary))


def _materialize(defs, name: str, day) -> dg.ExecuteInProcessResult:
    result = defs.resolve_job_def(f"{name}_sync").execute_in_process(tags=partition_tags(day, day))
    assert result.success
    return result


def _metadata(result, name: str) -> dict:
    (materialization,) = result.asset_materializations_for_node(name)
    return {key: value.value for key, value in materialization.metadata.items()}


@pytest.mark.parametrize("name", list(GENERATORS))
def test_every_shipped_table_materialises_a_day_and_passes_its_checks(
    defs, name, first_day, pg_server, sync_env
):
    day = first_day + timedelta(days=1)
    result = _materialize(defs, name, day)

    spec = load_table_list(default_path()).table(name)
    count = (
        f"SELECT count(*) FROM {{}} WHERE {spec.partition_column} >= %s"
        f" AND {spec.partition_column} < %s::date + 1"
    )
    source = scalar(pg_server, sync_env["REDSHIFT_DATABASE"], count.format(spec.source), (day, day))
    assert source > 0
    assert _metadata(result, name)["rows_inserted"] == source
    assert (
        scalar(pg_server, sync_env["POSTGRES_DATABASE"], count.format(spec.target), (day, day))
        == source
    )
    evaluations = result.get_asset_check_evaluations()
    assert {e.check_name for e in evaluations} >= {"schema_matches", "reconciled_with_source"}
    assert all(e.passed for e in evaluations)


def test_a_redelivered_day_of_recommendations_shows_updates_and_deletions(
    defs, first_day, pg_server, source_db
):
    day = first_day + timedelta(days=1)
    _materialize(defs, "coh_recommendations", day)
    with contextlib.closing(pg_server.connect(source_db)) as conn:
        churn = coh_data.restate_day(
            conn, "billing", "cost_optimization_recommendations", day, remove_fraction=0.1
        )

    metadata = _metadata(_materialize(defs, "coh_recommendations", day), "coh_recommendations")

    assert churn["removed"] > 0 and churn["changed"] > 0 and churn["added"] == 3
    assert metadata["rows_updated"] == churn["changed"]
    assert metadata["rows_inserted"] == churn["added"]
    assert metadata["rows_deleted"] == churn["removed"]
