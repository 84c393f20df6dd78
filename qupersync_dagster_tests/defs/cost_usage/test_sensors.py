"""The restatement sensor asks once for exactly the days AWS re-delivered, and for nothing else."""

from __future__ import annotations

import json
from datetime import timedelta

import dagster as dg
import pytest

from qupersync_dagster.defs.cost_usage.sensors import (
    DEFAULT_INTERVAL_S,
    INTERVAL_ENV,
    build_restatement_sensor,
)
from qupersync_dagster.devkit import cur_data
from qupersync_dagster.domain.errors import ConfigError
from qupersync_dagster_tests.defs.cost_usage.conftest import SOURCE_TABLE, TABLE, TARGET_TABLE
from qupersync_dagster_tests.tables import day_digest

pytestmark = pytest.mark.integration

SENSOR = f"{TABLE}_restatement_sensor"
JOB = f"{TABLE}_sync"
START, END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


@pytest.fixture
def evaluate(defs, resources, instance):
    """One tick of the sensor with ``cursor``: (its run requests, its new cursor)."""
    sensor = defs.resolve_sensor_def(SENSOR)

    def tick(cursor: str | None) -> tuple[list[dg.RunRequest], str | None]:
        context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
        data = sensor.evaluate_tick(context)
        return list(data.run_requests or []), data.cursor

    return tick


@pytest.fixture
def restate(recent_source):
    def run(day) -> None:
        changes = cur_data.restate_day(recent_source, "billing", TABLE, day)
        assert changes["removed"] + changes["changed"] + changes["added"] > 0

    return run


def test_the_sensor_is_stopped_hourly_and_its_interval_comes_from_the_environment(
    defs, spec, monkeypatch
):
    sensor = defs.resolve_sensor_def(SENSOR)
    assert sensor.default_status is dg.DefaultSensorStatus.STOPPED
    assert sensor.minimum_interval_seconds == DEFAULT_INTERVAL_S == 3600
    assert sensor.job_name == JOB

    monkeypatch.setenv(INTERVAL_ENV, "600")
    assert build_restatement_sensor(spec).minimum_interval_seconds == 600
    monkeypatch.setenv(INTERVAL_ENV, "ten minutes")
    with pytest.raises(ConfigError, match=INTERVAL_ENV):
        build_restatement_sensor(spec)


def test_unsynced_days_with_rows_are_requested_and_nothing_once_they_are_synced(
    evaluate, run_job, instance, days, recent_source
):
    # Today's rows are not delivered yet: a day never synced and without rows is not a change.
    with recent_source, recent_source.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {SOURCE_TABLE} WHERE line_item_usage_start_date >= %s", (days[-1],)
        )
    [request], cursor = evaluate(None)
    assert (request.tags[START], request.tags[END]) == (days[0].isoformat(), days[-2].isoformat())
    assert sorted(json.loads(cursor)) == [d.isoformat() for d in days[:-1]]

    assert run_job(JOB, request.tags, instance=instance).success
    requests, cursor = evaluate(cursor)
    assert requests == [] and json.loads(cursor) == {}


def test_restated_days_are_requested_once_and_again_when_another_day_changes(
    sync, evaluate, restate, run_job, instance, days, pg_server, source_db, target_db
):
    sync(days[0], days[-1])
    assert evaluate(None)[0] == []

    restate(days[1])
    restate(days[3])
    [request], cursor = evaluate(None)
    assert (request.tags[START], request.tags[END]) == (days[1].isoformat(), days[3].isoformat())
    assert sorted(json.loads(cursor)) == [days[1].isoformat(), days[3].isoformat()]
    # Requested, not run yet: the same changes are not requested twice.
    requests, same_cursor = evaluate(cursor)
    assert requests == [] and same_cursor == cursor

    restate(days[0])
    [request], cursor = evaluate(cursor)
    assert (request.tags[START], request.tags[END]) == (days[0].isoformat(), days[3].isoformat())

    result = run_job(JOB, request.tags, instance=instance)
    assert result.success
    outcomes = {
        m.partition: m.metadata["outcome"].value
        for m in result.asset_materializations_for_node(TABLE)
    }
    assert list(outcomes.values()).count("synced") == 3
    assert outcomes[days[2].isoformat()] == "unchanged"  # between the restated days
    for day in days[:4]:
        assert day_digest(pg_server, target_db, TARGET_TABLE, day.isoformat()) == (
            day_digest(pg_server, source_db, SOURCE_TABLE, day.isoformat())
        )
    assert evaluate(cursor)[0] == []


def test_a_day_whose_rows_all_vanished_at_the_source_is_requested(
    sync, evaluate, recent_source, run_job, instance, days, pg_server, target_db
):
    sync(days[0], days[-1])
    gone = days[2]
    with recent_source, recent_source.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {SOURCE_TABLE} WHERE line_item_usage_start_date >= %s"
            " AND line_item_usage_start_date < %s",
            (gone, gone + timedelta(days=1)),
        )
    [request], cursor = evaluate(None)
    assert request.tags["dagster/partition"] == gone.isoformat()

    assert run_job(JOB, request.tags, instance=instance).success
    assert day_digest(pg_server, target_db, TARGET_TABLE, gone.isoformat())[0] == 0
    assert evaluate(cursor)[0] == []


def test_changes_whose_run_failed_are_requested_again(
    sync, evaluate, restate, run_job, instance, days, target_conn
):
    sync(days[0], days[-1])
    restate(days[2])
    [request], cursor = evaluate(None)

    # A target column the source cannot fill: the blocking schema check fails the run.
    with target_conn.cursor() as sql:
        sql.execute(f"ALTER TABLE {TARGET_TABLE} ADD COLUMN note text NOT NULL DEFAULT ''")
    assert not run_job(JOB, request.tags, instance=instance, raise_on_error=False).success
    [again], cursor = evaluate(cursor)
    assert again.tags == request.tags

    with target_conn.cursor() as sql:
        sql.execute(f"ALTER TABLE {TARGET_TABLE} DROP COLUMN note")
    assert run_job(JOB, again.tags, instance=instance).success
    assert evaluate(cursor)[0] == []
