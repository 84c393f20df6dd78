"""The asset graph runs Redshift source -> mirror -> summary, with table names, column lineage."""

from __future__ import annotations

import dagster as dg
import pytest

from qupersync_dagster.domain.entities import SUMMARY_DIMENSIONS, SUMMARY_MEASURES
from qupersync_dagster_tests.defs.cost_usage.conftest import SOURCE_TABLE, TABLE, TARGET_TABLE
from qupersync_dagster_tests.tables import scalar

SOURCE = dg.AssetKey(["redshift", *SOURCE_TABLE.split(".")])
SUMMARY = dg.AssetKey("cost_usage_summary")


def _specs(defs) -> dict[dg.AssetKey, dg.AssetSpec]:
    return {spec.key: spec for spec in defs.resolve_all_asset_specs()}


def test_the_redshift_source_is_an_external_asset_upstream_of_its_mirror(defs):
    graph = defs.resolve_asset_graph()
    specs = _specs(defs)

    assert not graph.get(SOURCE).is_executable
    assert specs[SOURCE].kinds == {"redshift"}
    assert graph.get(dg.AssetKey(TABLE)).parent_keys == {SOURCE}
    assert graph.get(SUMMARY).parent_keys == {dg.AssetKey(TABLE)}
    assert specs[dg.AssetKey(TABLE)].kinds == specs[SUMMARY].kinds == {"postgres"}


def test_source_mirror_and_summary_carry_their_table_names(defs):
    names = {key: spec.metadata["dagster/table_name"] for key, spec in _specs(defs).items()}

    assert names == {
        SOURCE: SOURCE_TABLE,
        dg.AssetKey(TABLE): TARGET_TABLE,
        SUMMARY: "cost.cost_usage_summary",
    }


def test_each_summary_dimension_and_measure_comes_from_its_line_item_column(defs, spec):
    lineage = _specs(defs)[SUMMARY].metadata["dagster/column_lineage"]

    expected = {"usage_date": spec.partition_column} | dict(SUMMARY_DIMENSIONS + SUMMARY_MEASURES)
    assert {
        column: [(d.asset_key, d.column_name) for d in deps]
        for column, deps in lineage.deps_by_column.items()
    } == {column: [(dg.AssetKey(TABLE), source)] for column, source in expected.items()}


@pytest.mark.integration
def test_a_mirrors_materialisation_maps_every_column_to_its_source_namesake(
    sync, days, pg_server, target_db
):
    result = sync(days[0], days[0])

    [materialization] = result.asset_materializations_for_node(TABLE)
    lineage = materialization.metadata["dagster/column_lineage"].value
    columns = scalar(
        pg_server,
        target_db,
        "SELECT array_agg(column_name::text ORDER BY ordinal_position)"
        " FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
        tuple(TARGET_TABLE.split(".")),
    )
    assert len(columns) > 10
    assert {
        column: [(d.asset_key, d.column_name) for d in deps]
        for column, deps in lineage.deps_by_column.items()
    } == {column: [(SOURCE, column)] for column in columns}
