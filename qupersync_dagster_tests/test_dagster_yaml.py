"""The production ``dagster.yaml`` loads on the pinned Dagster and sets up what QuperSync relies on.

Expected values are read from the file itself (parsed as plain YAML), and what Dagster made of them
is read back both through the instance and straight from its PostgreSQL tables.
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance
from dagster._core.definitions.run_request import InstigatorType
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.instance.config import PoolGranularity
from dagster._core.run_coordinator.queued_run_coordinator import QueuedRunCoordinator
from dagster._core.scheduler.instigation import TickStatus
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

import qupersync_dagster
from qupersync_dagster.definitions import defs
from qupersync_dagster.devkit.redshift_emulator import RedshiftWireEmulator
from qupersync_dagster.instance_storage import PooledPostgresStorage

pytestmark = pytest.mark.integration

DAGSTER_YAML = Path(qupersync_dagster.__file__).parents[1] / "dagster.yaml"
SETTINGS = yaml.safe_load(DAGSTER_YAML.read_text())


@pytest.fixture
def dagster_database(pg_server):
    name = f"qs_dagster_{uuid.uuid4().hex[:10]}"
    pg_server.create_database(name)
    yield name
    pg_server.drop_database(name)


@pytest.fixture
def dagster_env(tmp_path, monkeypatch, pg_server, dagster_database) -> dict[str, str]:
    """DAGSTER_HOME holding the repository's dagster.yaml; DAGSTER_PG_* for the test server.

    dagster-postgres wants a host and a port, so a plain TCP relay (the wire emulator without
    its Redshift rewriting) fronts the test server, which may listen on a Unix socket only.
    """
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(DAGSTER_YAML, home / "dagster.yaml")
    with RedshiftWireEmulator(pg_server, rewrite=False) as relay:
        values = {
            "DAGSTER_HOME": str(home),
            "DAGSTER_PG_HOST": relay.host,
            "DAGSTER_PG_PORT": str(relay.port),
            "DAGSTER_PG_USER": pg_server.user,
            "DAGSTER_PG_PASSWORD": pg_server.password,
            "DAGSTER_PG_DB": dagster_database,
        }
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        yield values


@pytest.fixture
def instance(dagster_env):
    instance = DagsterInstance.get()
    yield instance
    instance.dispose()


def _query(pg_server, database: str, statement: str) -> list[tuple]:
    with contextlib.closing(pg_server.connect(database)) as conn, conn.cursor() as cursor:
        cursor.execute(statement)
        return cursor.fetchall()


def test_runs_events_and_schedules_are_stored_in_the_configured_database(
    instance, pg_server, dagster_database
):
    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
    tables = {
        name
        for (name,) in _query(
            pg_server,
            dagster_database,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
        )
    }
    assert {"runs", "event_logs", "jobs", "concurrency_limits"} <= tables


def _connections(pg_server, database: str) -> set[int]:
    """The server processes serving ``database``'s clients other than this one."""
    return {
        pid
        for (pid,) in _query(
            pg_server,
            database,
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()",
        )
    }


def test_each_store_keeps_its_one_connection_from_use_to_use(instance, pg_server, dagster_database):
    def use_every_store() -> None:
        instance.get_runs(limit=1)
        instance.event_log_storage.get_asset_records()
        instance.all_instigator_state()

    use_every_store()
    kept = _connections(pg_server, dagster_database)
    for _ in range(5):
        use_every_store()

    assert 1 <= len(kept) <= 3
    assert _connections(pg_server, dagster_database) == kept
    assert isinstance(instance.get_ref().storage, PooledPostgresStorage)


def test_every_pool_of_the_code_location_gets_the_configured_limit(
    instance, pg_server, dagster_database
):
    pools_config = SETTINGS["concurrency"]["pools"]
    pool_config = instance.get_concurrency_config().pool_config
    assert pool_config.default_pool_limit == pools_config["default_limit"]
    assert pool_config.pool_granularity is PoolGranularity(pools_config["granularity"])

    pools = {
        assets_def.op.pool
        for assets_def in defs.resolve_asset_graph().assets_defs
        if assets_def.is_executable and assets_def.op.pool
    }
    assert "redshift" in pools
    for pool in pools:
        # What the run queue does the first time a run of the pool is queued.
        instance.event_log_storage.initialize_concurrency_limit_to_default(pool)
        assert (
            instance.event_log_storage.get_concurrency_info(pool).slot_count
            == (pools_config["default_limit"])
        )
    limits = 'SELECT concurrency_key, "limit" FROM concurrency_limits'
    stored = dict(_query(pg_server, dagster_database, limits))
    assert stored == dict.fromkeys(pools, pools_config["default_limit"])


def test_runs_are_queued_retried_after_crashes_and_monitored(instance):
    coordinator = instance.run_coordinator
    assert isinstance(coordinator, QueuedRunCoordinator)
    queue = instance.get_concurrency_config().run_queue_config
    assert queue.max_concurrent_runs == SETTINGS["concurrency"]["runs"]["max_concurrent_runs"]
    expected_queue = SETTINGS["run_queue"]
    assert queue.max_user_code_failure_retries == expected_queue["max_user_code_failure_retries"]
    assert queue.user_code_failure_retry_delay == expected_queue["user_code_failure_retry_delay"]
    # A run launched from the UI leaves the queue within a second.
    assert coordinator.dequeue_interval_seconds == expected_queue["dequeue_interval_seconds"] == 1
    assert coordinator.dequeue_use_threads is expected_queue["dequeue_use_threads"] is True

    retries = SETTINGS["run_retries"]
    assert instance.run_retries_enabled is retries["enabled"] is True
    assert instance.run_retries_max_retries == retries["max_retries"] > 0
    assert instance.run_retries_retry_on_asset_or_op_failure is False
    assert instance.run_monitoring_enabled is True


def test_schedule_and_sensor_ticks_are_purged_after_the_configured_days(instance):
    retention = SETTINGS["retention"]
    schedule = instance.get_tick_retention_settings(InstigatorType.SCHEDULE)
    assert set(schedule.values()) == {retention["schedule"]["purge_after_days"]}
    sensor = instance.get_tick_retention_settings(InstigatorType.SENSOR)
    for status, days in retention["sensor"]["purge_after_days"].items():
        assert sensor[TickStatus(status.upper())] == days > 0


def test_connection_settings_come_from_the_environment(dagster_env, monkeypatch):
    monkeypatch.delenv("DAGSTER_PG_HOST")
    with pytest.raises(DagsterInvalidConfigError, match="DAGSTER_PG_HOST"):
        DagsterInstance.get()
