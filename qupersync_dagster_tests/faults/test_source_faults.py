"""A source connection cut mid-extract fails retryably and never half-writes a partition.

Each run first mirrors three days, restates the middle one at the source, then re-syncs the
range over a wire armed to reset after a given number of server messages or bytes. The cut must
surface as ``SourceUnavailableError`` for the restated day, the target rows and sync state must
be exactly as before, and a retry on the very same service (its broken connection dropped) must
leave the target equal to the source.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from qupersync_dagster.domain.entities import PartitionOutcome, SyncMode
from qupersync_dagster.domain.errors import SourceUnavailableError
from qupersync_dagster_tests.faults import ledger
from qupersync_dagster_tests.faults.services import sync_service

pytestmark = [pytest.mark.integration, pytest.mark.faults]

START = ledger.START
END = START + timedelta(days=3)
RESTATED = START + timedelta(days=1)

# Positions chosen to land while the restated day streams (the message names its partition),
# spread over the day's FETCHes; byte limits also cut inside a message.
MID_EXTRACT = [
    pytest.param(SyncMode.REPLACE, {"server_messages": 160}, 4, id="replace-msg160"),
    pytest.param(SyncMode.REPLACE, {"server_messages": 260}, 1, id="replace-msg260"),
    pytest.param(SyncMode.REPLACE, {"server_bytes": 4_321}, 1, id="replace-bytes4321"),
    pytest.param(SyncMode.REPLACE, {"server_bytes": 23_457}, 4, id="replace-bytes23457"),
    pytest.param(SyncMode.UPSERT, {"server_messages": 150}, 4, id="upsert-msg150"),
    pytest.param(SyncMode.UPSERT, {"server_messages": 420}, 1, id="upsert-msg420"),
    pytest.param(SyncMode.UPSERT, {"server_bytes": 6_007}, 4, id="upsert-bytes6007"),
    pytest.param(SyncMode.UPSERT, {"server_bytes": 31_013}, 1, id="upsert-bytes31013"),
]


def _mirror_then_restate(endpoints, ledger_source, mode: SyncMode):
    spec = ledger.spec(mode)
    with sync_service(endpoints) as service:
        service.sync(spec, START, END)
    ledger.restate(ledger_source, RESTATED)
    return spec


@pytest.mark.parametrize(("mode", "cut", "depth"), MID_EXTRACT)
def test_a_cut_mid_extract_fails_retryably_and_the_retry_matches_the_source(
    mode, cut, depth, pg_server, source_db, target_db, source_wire, endpoints, ledger_source
):
    spec = _mirror_then_restate(endpoints, ledger_source, mode)
    before = ledger.snapshot(pg_server, target_db)

    source_wire.cut_after(**cut)
    with sync_service(endpoints, prefetch_depth=depth) as service:
        with pytest.raises(SourceUnavailableError) as failure:
            service.sync(spec, START, END)
        assert failure.value.retryable
        assert f"partition {RESTATED.isoformat()}" in str(failure.value)
        assert source_wire.cuts == 1
        assert ledger.snapshot(pg_server, target_db) == before

        results = service.sync(spec, START, END)

    assert [r.outcome for r in results] == [
        PartitionOutcome.UNCHANGED,
        PartitionOutcome.SYNCED,
        PartitionOutcome.UNCHANGED,
    ]
    ledger.assert_mirrors_source(pg_server, source_db, target_db, START, 3)


@pytest.mark.parametrize("messages", [12, 45], ids=["in-session-setup", "in-describe"])
def test_a_cut_before_any_partition_is_retryable_and_writes_nothing(
    messages, pg_server, source_db, target_db, source_wire, endpoints, ledger_source
):
    spec = _mirror_then_restate(endpoints, ledger_source, SyncMode.REPLACE)
    before = ledger.snapshot(pg_server, target_db)

    source_wire.cut_after(server_messages=messages)
    with sync_service(endpoints) as service:
        with pytest.raises(SourceUnavailableError) as failure:
            service.sync(spec, START, END)
        assert failure.value.retryable and source_wire.cuts == 1
        assert ledger.snapshot(pg_server, target_db) == before
        service.sync(spec, START, END)

    ledger.assert_mirrors_source(pg_server, source_db, target_db, START, 3)


def test_every_later_connection_cut_is_survived_by_retrying(
    pg_server, source_db, target_db, source_wire, endpoints, ledger_source
):
    """A flapping link (every connection reset) fails every attempt until it heals."""
    spec = _mirror_then_restate(endpoints, ledger_source, SyncMode.UPSERT)
    before = ledger.snapshot(pg_server, target_db)

    source_wire.cut_after(server_messages=150, once=False)
    with sync_service(endpoints) as service:
        for _ in range(3):
            with pytest.raises(SourceUnavailableError):
                service.sync(spec, START, END)
        assert source_wire.cuts == 3
        assert ledger.snapshot(pg_server, target_db) == before
        source_wire.clear_faults()
        service.sync(spec, START, END)

    ledger.assert_mirrors_source(pg_server, source_db, target_db, START, 3)
