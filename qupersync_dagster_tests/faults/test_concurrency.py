"""Two runs of the same table and partition are serialised by the partition's advisory lock.

The first run is held inside its partition transaction (after taking the partition lock, its
DELETE waits on a table lock the test holds); only then does the second start, and the server
must show it waiting for the advisory lock, not writing beside the first. When the test lets go,
the first commits and the second finds the partition already synced and skips it (or, forced,
rewrites it identically). The target has no primary key, so interleaved writers would show up
as duplicate rows rather than as a constraint error.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

import dagster as dg
import pytest

from qupersync_dagster.definitions import build_definitions
from qupersync_dagster.domain.entities import PartitionOutcome
from qupersync_dagster.infrastructure.table_list import load_table_list
from qupersync_dagster_tests.faults import ledger
from qupersync_dagster_tests.faults.activity import (
    Background,
    wait_for_lock_waiter,
    wait_for_statement,
)
from qupersync_dagster_tests.faults.services import sync_service

pytestmark = [pytest.mark.integration, pytest.mark.faults]

DAY = ledger.START + timedelta(days=1)
NEXT = DAY + timedelta(days=1)
SPEC = ledger.spec(primary_key=())


@pytest.fixture
def restated(endpoints, ledger_source, pg_server, target_db):
    """The day mirrored, then restated at the source, so that the next run re-syncs it."""
    with sync_service(endpoints) as service:
        service.sync(SPEC, DAY, NEXT)
    ledger.restate(ledger_source, DAY)
    return endpoints


@contextlib.contextmanager
def _target_table_held(pg_server, target_db):
    """Hold a lock on the mirrored table that makes a run's DELETE wait until the block ends."""
    with contextlib.closing(pg_server.connect(target_db)) as conn, conn.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {ledger.TARGET_SCHEMA}.{ledger.TABLE} IN SHARE MODE")
        yield
        conn.commit()


def _first_holds_the_lock_second_waits(endpoints, pg_server, target_db, *, force: bool):
    with sync_service(endpoints) as first_service, sync_service(endpoints) as second_service:
        with _target_table_held(pg_server, target_db):
            first = Background(lambda: first_service.sync(SPEC, DAY, NEXT))
            wait_for_statement(pg_server, target_db, "DELETE FROM")
            second = Background(lambda: second_service.sync(SPEC, DAY, NEXT, force=force))
            wait_for_lock_waiter(pg_server, target_db)
        return first.result(), second.result()


def _no_duplicates_and_equal_to_source(pg_server, source_db, target_db) -> None:
    source = ledger.digest(pg_server, source_db, target=False, day=DAY)
    assert ledger.digest(pg_server, target_db, target=True, day=DAY) == source


def test_the_second_run_waits_then_skips_the_partition_as_unchanged(
    restated, pg_server, source_db, target_db
):
    [first], [second] = _first_holds_the_lock_second_waits(
        restated, pg_server, target_db, force=False
    )

    assert (first.outcome, first.waited_for_lock) == (PartitionOutcome.SYNCED, False)
    assert (second.outcome, second.waited_for_lock) == (PartitionOutcome.UNCHANGED, True)
    _no_duplicates_and_equal_to_source(pg_server, source_db, target_db)


def test_a_forced_second_run_waits_then_rewrites_the_partition_identically(
    restated, pg_server, source_db, target_db
):
    [first], [second] = _first_holds_the_lock_second_waits(
        restated, pg_server, target_db, force=True
    )

    assert (first.outcome, first.waited_for_lock) == (PartitionOutcome.SYNCED, False)
    assert (second.outcome, second.waited_for_lock) == (PartitionOutcome.SYNCED, True)
    assert second.counts.deleted == first.counts.inserted == second.counts.inserted
    _no_duplicates_and_equal_to_source(pg_server, source_db, target_db)


def test_a_manual_materialisation_waits_for_a_running_sync_and_reports_it(
    restated, pg_server, source_db, target_db, sync_env, tmp_path, monkeypatch
):
    """A Dagster run started while another run syncs the partition: schedule plus manual."""
    monkeypatch.setenv("REDSHIFT_PORT", str(restated.emulator.port))  # this test's source wire
    config = tmp_path / "tables.yaml"
    config.write_text(
        f"""
tables:
  - name: {ledger.TABLE}
    source: {ledger.SCHEMA}.{ledger.TABLE}
    target: {ledger.TARGET_SCHEMA}.{ledger.TABLE}
    partition_column: usage_start
    start_date: "{ledger.START.isoformat()}"
    measure_column: cost
"""
    )
    asset = build_definitions(load_table_list(config)).resolve_assets_def(ledger.TABLE)

    with sync_service(restated) as scheduled:
        with _target_table_held(pg_server, target_db):
            first = Background(lambda: scheduled.sync(SPEC, DAY, NEXT))
            wait_for_statement(pg_server, target_db, "DELETE FROM")
            manual = Background(lambda: dg.materialize([asset], partition_key=DAY.isoformat()))
            wait_for_lock_waiter(pg_server, target_db)
        [scheduled_result] = first.result()
        result = manual.result()

    assert scheduled_result.outcome is PartitionOutcome.SYNCED
    assert result.success
    metadata = result.asset_materializations_for_node(ledger.TABLE)[0].metadata
    assert metadata["partitions_waited_for_lock"].value == 1
    assert metadata["partitions_unchanged"].value == 1
    assert metadata["partitions_synced"].value == 0
    _no_duplicates_and_equal_to_source(pg_server, source_db, target_db)
