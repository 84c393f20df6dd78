"""A target connection cut mid-COPY or mid-apply fails retryably and never half-writes.

The target is reached through a plain TCP proxy armed to reset the connection after a number of
client bytes (inside the COPY payload), after a number of server messages (anywhere in the
partition's transaction), or on demand while the server is seen running a given statement (the
upsert's INSERT ... ON CONFLICT, the sync state write, the COMMIT).

A cut during COMMIT is the one position where the client cannot know the outcome: the server may
have committed just before the link dropped. The promise there is that data and sync state moved
together (both old or both new) and that the retry settles it.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import replace
from datetime import timedelta

import pytest

from qupersync_dagster.domain.entities import PartitionOutcome, SyncMode
from qupersync_dagster.domain.errors import TargetUnavailableError
from qupersync_dagster_tests.faults import ledger
from qupersync_dagster_tests.faults.activity import Background, wait_for_statement, wait_until_gone
from qupersync_dagster_tests.faults.services import failed_in, sync_service

pytestmark = [pytest.mark.integration, pytest.mark.faults]

START = ledger.START
END = START + timedelta(days=3)
RESTATED = START + timedelta(days=1)


@pytest.fixture
def via_proxy(endpoints, target_wire):
    return replace(endpoints, target_proxy=target_wire)


def _mirror_then_restate(endpoints, ledger_source, mode: SyncMode):
    spec = ledger.spec(mode)
    with sync_service(endpoints) as service:
        service.sync(spec, START, END)
    ledger.restate(ledger_source, RESTATED)
    return spec


def _retry_settles_it(service, spec, pg_server, source_db, target_db) -> None:
    results = service.sync(spec, START, END)
    assert results[1].outcome in (PartitionOutcome.SYNCED, PartitionOutcome.UNCHANGED)
    ledger.assert_mirrors_source(pg_server, source_db, target_db, START, 3)


@pytest.mark.parametrize(
    ("mode", "client_bytes"),
    [
        (SyncMode.REPLACE, 8_000),
        (SyncMode.REPLACE, 20_011),
        (SyncMode.REPLACE, 36_000),
        (SyncMode.UPSERT, 25_013),
        (SyncMode.UPSERT, 45_000),
    ],
)
def test_a_cut_mid_copy_rolls_the_partition_back_and_the_retry_matches_the_source(
    mode, client_bytes, pg_server, source_db, target_db, target_wire, via_proxy, ledger_source
):
    spec = _mirror_then_restate(via_proxy, ledger_source, mode)
    before = ledger.snapshot(pg_server, target_db)

    target_wire.cut_after(client_bytes=client_bytes)
    with sync_service(via_proxy) as service:
        with pytest.raises(TargetUnavailableError) as failure:
            service.sync(spec, START, END)
        assert failure.value.retryable and target_wire.cuts == 1
        assert f"partition {RESTATED.isoformat()}" in str(failure.value)
        assert "_copy" in failed_in(failure.value)
        assert ledger.snapshot(pg_server, target_db) == before
        _retry_settles_it(service, spec, pg_server, source_db, target_db)


# Message counts spread over the partition's transaction: the lock, DELETE or stage set-up,
# the key checks, the merge, the ghost-row delete, the day's fingerprint, the state write, the
# COMMIT.
@pytest.mark.parametrize(
    ("mode", "messages"),
    [
        (SyncMode.REPLACE, 74),
        (SyncMode.REPLACE, 83),
        (SyncMode.REPLACE, 88),
        (SyncMode.UPSERT, 89),
        (SyncMode.UPSERT, 97),
        (SyncMode.UPSERT, 105),
        (SyncMode.UPSERT, 123),
        (SyncMode.UPSERT, 127),
        (SyncMode.UPSERT, 133),
        (SyncMode.UPSERT, 135),
    ],
)
def test_a_cut_anywhere_in_the_partition_transaction_is_all_or_nothing(
    mode, messages, pg_server, source_db, target_db, target_wire, via_proxy, ledger_source
):
    spec = _mirror_then_restate(via_proxy, ledger_source, mode)
    before = ledger.snapshot(pg_server, target_db)

    target_wire.cut_after(server_messages=messages)
    with sync_service(via_proxy) as service:
        with pytest.raises(TargetUnavailableError) as failure:
            service.sync(spec, START, END)
        assert failure.value.retryable and target_wire.cuts == 1
        if "committing" in str(failure.value):
            # Only a cut during COMMIT may leave the new partition behind, state included.
            after = ledger.snapshot(pg_server, target_db)
            assert after == before or ledger.mirrors_source(
                pg_server, source_db, target_db, START, 3
            )
        else:
            assert ledger.snapshot(pg_server, target_db) == before
        _retry_settles_it(service, spec, pg_server, source_db, target_db)


PAUSE = """
CREATE FUNCTION public.qs_pause() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN PERFORM pg_sleep(0.5); RETURN NULL; END $$
"""

# (mode, trigger making the phase last long enough to be seen, statement seen, outcome)
PHASES = [
    pytest.param(
        SyncMode.UPSERT,
        "CREATE TRIGGER qs_slow AFTER INSERT ON cost.usage_lines"
        " FOR EACH STATEMENT EXECUTE FUNCTION public.qs_pause()",
        "WITH merged AS",
        "rolled back",
        id="upsert-insert-on-conflict",
    ),
    pytest.param(
        SyncMode.REPLACE,
        "CREATE TRIGGER qs_slow AFTER INSERT OR UPDATE ON qupersync.sync_state"
        " FOR EACH STATEMENT EXECUTE FUNCTION public.qs_pause()",
        "INSERT INTO qupersync.sync_state",
        "rolled back",
        id="replace-state-write",
    ),
    pytest.param(
        SyncMode.UPSERT,
        "CREATE TRIGGER qs_slow AFTER INSERT OR UPDATE ON qupersync.sync_state"
        " FOR EACH STATEMENT EXECUTE FUNCTION public.qs_pause()",
        "INSERT INTO qupersync.sync_state",
        "rolled back",
        id="upsert-state-write",
    ),
    pytest.param(
        SyncMode.REPLACE,
        "CREATE CONSTRAINT TRIGGER qs_slow AFTER INSERT OR UPDATE ON qupersync.sync_state"
        " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.qs_pause()",
        "COMMIT",
        "committed",
        id="replace-commit",
    ),
]


@pytest.mark.parametrize(("mode", "trigger", "statement", "outcome"), PHASES)
def test_a_cut_while_the_server_runs_a_given_statement(
    mode,
    trigger,
    statement,
    outcome,
    pg_server,
    source_db,
    target_db,
    target_wire,
    via_proxy,
    ledger_source,
):
    spec = _mirror_then_restate(via_proxy, ledger_source, mode)
    before = ledger.snapshot(pg_server, target_db)
    with closing(pg_server.connect(target_db)) as conn, conn, conn.cursor() as cursor:
        cursor.execute(PAUSE)
        cursor.execute(trigger)

    with sync_service(via_proxy) as service:
        run = Background(lambda: service.sync(spec, START, END))
        backend = wait_for_statement(pg_server, target_db, statement)
        target_wire.cut_all()
        with pytest.raises(TargetUnavailableError) as failure:
            run.result()
        assert failure.value.retryable
        wait_until_gone(pg_server, backend)
        if outcome == "committed":
            # The server finished the COMMIT it had started: data and state are both new.
            assert "committing" in str(failure.value)
            assert ledger.mirrors_source(pg_server, source_db, target_db, START, 3)
        else:
            assert ledger.snapshot(pg_server, target_db) == before
        with closing(pg_server.connect(target_db)) as conn, conn, conn.cursor() as cursor:
            cursor.execute("DROP FUNCTION public.qs_pause() CASCADE")
        _retry_settles_it(service, spec, pg_server, source_db, target_db)


def test_a_cut_while_connecting_is_a_retryable_target_error(
    pg_server, target_db, target_wire, via_proxy, ledger_source
):
    target_wire.cut_after(server_messages=20)
    with pytest.raises(TargetUnavailableError) as failure, sync_service(via_proxy):
        pass
    assert failure.value.retryable and target_wire.cuts == 1
    assert ledger.snapshot(pg_server, target_db) == ((0, None), [])
