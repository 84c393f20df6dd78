"""Dagster's own checks ride along: the column-schema change check and the FreshnessPolicy."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
import pytest

from qupersync_dagster.defs.cost_usage.schedules import partition_tags
from qupersync_dagster_tests.defs.cost_usage.conftest import TABLE


def test_every_mirror_has_a_freshness_policy_of_its_lag_plus_a_day(defs, spec):
    [asset_spec] = defs.resolve_assets_def(TABLE).specs
    policy = asset_spec.freshness_policy
    assert isinstance(policy, dg.FreshnessPolicy)
    assert policy == dg.FreshnessPolicy.time_window(
        fail_window=timedelta(days=spec.freshness_lag_days + 1)
    )
    assert "freshness" in {key.name for key in defs.resolve_asset_graph().asset_check_keys}


@pytest.mark.integration
def test_the_column_schema_change_check_warns_when_a_column_is_added(run_job, days, recent_source):
    instance = dg.DagsterInstance.ephemeral()

    def schema_change(day) -> dg.AssetCheckEvaluation:
        """Sync ``day`` (one run, history kept in ``instance``); its schema-change verdict."""
        result = run_job(f"{TABLE}_sync", partition_tags(day, day), instance=instance)
        assert result.success
        evaluations = result.get_asset_check_evaluations()
        [evaluation] = [e for e in evaluations if e.check_name == "column_schema_change"]
        return evaluation

    assert schema_change(days[0]).description.endswith("fewer than 2 times")
    assert schema_change(days[1]).passed

    with recent_source.cursor() as cursor:
        cursor.execute(f"ALTER TABLE billing.{TABLE} ADD COLUMN cost_category varchar(64)")
    recent_source.commit()
    changed = schema_change(days[2])

    assert not changed.passed
    assert changed.severity is dg.AssetCheckSeverity.WARN
    assert "Added columns: cost_category" in changed.description
