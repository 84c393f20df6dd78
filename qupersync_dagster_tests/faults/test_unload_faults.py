"""Faults on the UNLOAD path leave the target and the sync state as they were, and a retry wins.

The emulator's UNLOAD is armed to drop or shorten a listed file, or to fail half-way through
writing; a plain proxy in front of the local S3 cuts a download mid-file; a child process is
SIGKILLed while it copies staged rows. Each time the day's rows and sync state must be exactly
as before, the retry (a fresh UNLOAD into a prefix of its own) must mirror the source, and no
staged object may be left once a day has succeeded.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from urllib.parse import urlparse

import pytest

from qupersync_dagster.devkit.redshift_emulator import RedshiftWireEmulator
from qupersync_dagster.domain.entities import ExtractMethod, PartitionOutcome, SyncMode
from qupersync_dagster.domain.errors import SourceUnavailableError
from qupersync_dagster_tests.faults import ledger
from qupersync_dagster_tests.faults.activity import wait_until_gone
from qupersync_dagster_tests.faults.services import Endpoints, sync_service
from qupersync_dagster_tests.faults.tcp_cut import CuttingRelay
from qupersync_dagster_tests.faults.test_kill import _kill, _start_child, _wait_for_copied_rows
from qupersync_dagster_tests.repositories import staging_settings

pytestmark = [pytest.mark.integration, pytest.mark.faults]

START = ledger.START
END = START + timedelta(days=3)
RESTATED = START + timedelta(days=1)


@pytest.fixture
def unload_wire(pg_server, local_s3_server):
    """An emulator for this test only, UNLOADing into the local S3: arm it to fault an UNLOAD."""
    with RedshiftWireEmulator(
        pg_server, single_node=False, session_settings={}, s3=local_s3_server.endpoint
    ) as emulator:
        yield emulator


@pytest.fixture
def staged(pg_server, unload_wire, source_db, target_db, local_s3) -> Endpoints:
    """Source through ``unload_wire``, its days UNLOADed into ``local_s3``'s bucket."""
    return Endpoints(
        pg_server, unload_wire, source_db, target_db, redshift=staging_settings(local_s3)
    )


def _keys(local_s3) -> list[str]:
    listed = local_s3.client().list_objects_v2(Bucket=local_s3.bucket)
    return [item["Key"] for item in listed.get("Contents", [])]


def _mirror_then_restate(endpoints, ledger_source, mode: SyncMode):
    spec = ledger.spec(mode, extract=ExtractMethod.UNLOAD)
    with sync_service(endpoints) as service:
        service.sync(spec, START, END)
    ledger.restate(ledger_source, RESTATED)
    return spec


def _attempts(local_s3) -> set[str]:
    """The UNLOAD prefixes that still hold staged objects."""
    return {key.rsplit("/", 1)[0] for key in _keys(local_s3)}


def _fails_then_converges(
    spec, endpoints, pg_server, source_db, target_db, local_s3, match, *, healed=None
):
    """The day fails retryably with nothing written, then a retry mirrors the source.

    A failed attempt deletes its staged files when S3 can be reached; when the failure was the
    way to S3 itself, the retry runs over ``healed`` endpoints, what the failed attempt could
    not delete is the bucket lifecycle rule's, and the retry's own files are gone all the same.
    """
    before = ledger.snapshot(pg_server, target_db)
    with sync_service(endpoints) as service:
        with pytest.raises(SourceUnavailableError, match=match) as failure:
            service.sync(spec, START, END)
        assert failure.value.retryable
        assert f"partition {RESTATED.isoformat()}" in str(failure.value)
        assert ledger.snapshot(pg_server, target_db) == before
        left = _attempts(local_s3)
        assert len(left) <= (0 if healed is None else 1)
    with sync_service(healed or endpoints) as service:
        results = service.sync(spec, START, END)

    assert [r.outcome for r in results] == [
        PartitionOutcome.UNCHANGED,
        PartitionOutcome.SYNCED,
        PartitionOutcome.UNCHANGED,
    ]
    assert results[1].extraction.method is ExtractMethod.UNLOAD
    ledger.assert_mirrors_source(pg_server, source_db, target_db, START, 3)
    assert _attempts(local_s3) == left


@pytest.mark.parametrize("mode", [SyncMode.REPLACE, SyncMode.UPSERT])
def test_a_missing_part_file_is_found_before_any_write_and_the_retry_converges(
    mode, staged, unload_wire, ledger_source, pg_server, source_db, target_db, local_s3
):
    spec = _mirror_then_restate(staged, ledger_source, mode)
    unload_wire.drop_unload_file()
    _fails_then_converges(
        spec, staged, pg_server, source_db, target_db, local_s3, r"_part_\d+\.gz is missing"
    )


def test_a_short_part_file_is_found_before_any_write_and_the_retry_converges(
    staged, unload_wire, ledger_source, pg_server, source_db, target_db, local_s3
):
    spec = _mirror_then_restate(staged, ledger_source, SyncMode.REPLACE)
    unload_wire.resize_unload_file()
    _fails_then_converges(
        spec, staged, pg_server, source_db, target_db, local_s3, "bytes, the manifest says"
    )


@pytest.mark.parametrize("mode", [SyncMode.REPLACE, SyncMode.UPSERT])
def test_an_unload_that_fails_part_way_is_retried_into_a_prefix_of_its_own(
    mode, staged, unload_wire, ledger_source, pg_server, source_db, target_db, local_s3
):
    spec = _mirror_then_restate(staged, ledger_source, mode)
    unload_wire.fail_unload_after(1)
    _fails_then_converges(spec, staged, pg_server, source_db, target_db, local_s3, "UNLOAD")


@pytest.fixture
def cut_s3(local_s3):
    """A relay in front of the local S3 that cuts one download past 150,000 bytes."""
    endpoint = urlparse(local_s3.endpoint_url)
    relay = CuttingRelay(endpoint.hostname, endpoint.port, cut_after=150_000)
    yield relay
    relay.close()


def test_a_download_cut_mid_file_fails_retryably_and_the_retry_converges(
    staged, cut_s3, ledger_source, pg_server, source_db, target_db, local_s3
):
    ledger.fill(ledger_source, start=RESTATED, days=1, rows_per_day=20_000, salt="big-")
    spec = _mirror_then_restate(staged, ledger_source, SyncMode.REPLACE)
    reading = dataclasses.replace(
        staged,
        redshift=staging_settings(local_s3, readers=1)
        | {"unload_endpoint_url": f"http://{cut_s3.host}:{cut_s3.port}"},
    )
    _fails_then_converges(
        spec, reading, pg_server, source_db, target_db, local_s3, "S3 failed", healed=staged
    )
    assert cut_s3.cuts == 1


@pytest.mark.parametrize("mode", [SyncMode.REPLACE, SyncMode.UPSERT])
def test_a_sync_killed_while_copying_staged_rows_leaves_the_old_partition_and_state(
    mode, staged, ledger_source, pg_server, source_db, target_db, local_s3
):
    ledger.fill(ledger_source, start=RESTATED, days=1, rows_per_day=60_000, salt="big-")
    spec = _mirror_then_restate(staged, ledger_source, mode)
    before = ledger.snapshot(pg_server, target_db)

    child = _start_child(staged, mode, extract="unload")
    backend = _wait_for_copied_rows(pg_server, target_db, 1)
    _kill(child)
    wait_until_gone(pg_server, backend)

    assert ledger.snapshot(pg_server, target_db) == before
    # The killed run staged one read, or two in upsert mode if it got to the whole-day read.
    left_by_the_killed_run = _attempts(local_s3)
    assert 1 <= len(left_by_the_killed_run) <= 2
    with sync_service(staged) as service:
        results = service.sync(spec, START, END)
    assert results[1].outcome is PartitionOutcome.SYNCED
    ledger.assert_mirrors_source(pg_server, source_db, target_db, START, 3)
    # Only the killed run's files are left (for the bucket's lifecycle rule); the retry's are gone.
    assert _attempts(local_s3) == left_by_the_killed_run
