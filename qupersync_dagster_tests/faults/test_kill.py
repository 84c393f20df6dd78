"""A sync process SIGKILLed during the load leaves no partial partition and no advanced state.

The sync runs in a child process over a restated day large enough for its COPY to be watched
on the server (``pg_stat_progress_copy``); the child is killed once the COPY has taken a chosen
number of rows, or while the upsert's merge runs. PostgreSQL then aborts the dead client's
transaction: the old rows and the old sync state must be all that is visible, and a new run
must produce the source's contents.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import subprocess
import sys
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest

from qupersync_dagster.domain.entities import PartitionOutcome, SyncMode
from qupersync_dagster_tests.faults import ledger
from qupersync_dagster_tests.faults.activity import poll, wait_for_statement, wait_until_gone
from qupersync_dagster_tests.faults.services import sync_service

pytestmark = [pytest.mark.integration, pytest.mark.faults]

START = ledger.START
END = START + timedelta(days=3)
BIG_DAY = START + timedelta(days=1)
BIG_ROWS = 20_000
REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture
def big_day(endpoints, ledger_source):
    """The middle day grown by ``BIG_ROWS`` rows, read in FETCHes small enough to watch."""
    ledger.fill(ledger_source, start=BIG_DAY, days=1, rows_per_day=BIG_ROWS, salt="big-")
    return dataclasses.replace(endpoints, redshift={"fetch_size": 500})


def _start_child(endpoints, mode: SyncMode, **spec) -> subprocess.Popen:
    job = {
        "redshift": endpoints.redshift_settings().model_dump(),
        "postgres": endpoints.postgres_settings().model_dump(),
        "mode": mode.value,
        "spec": spec,
        "start": START.isoformat(),
        "end": END.isoformat(),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "qupersync_dagster_tests.faults.sync_child", json.dumps(job)],
        cwd=REPOSITORY,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait_for_copied_rows(pg_server, target_db: str, rows: int) -> int:
    """The pid of the backend whose COPY into the target has taken at least ``rows`` rows."""
    return poll(
        pg_server,
        "SELECT p.pid FROM pg_stat_progress_copy AS p JOIN pg_database AS d ON d.oid = p.datid"
        " WHERE d.datname = %s AND p.tuples_processed >= %s LIMIT 1",
        (target_db, rows),
        f"a COPY into {target_db} to pass {rows} rows",
    )


def _kill(child: subprocess.Popen) -> None:
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL


def _then_a_new_run_matches_the_source(endpoints, spec, pg_server, source_db, target_db):
    with sync_service(endpoints) as service:
        results = service.sync(spec, START, END)
    assert results[1].outcome is PartitionOutcome.SYNCED
    ledger.assert_mirrors_source(pg_server, source_db, target_db, START, 3)


@pytest.mark.parametrize(
    ("mode", "copied_rows"),
    [(SyncMode.REPLACE, 1), (SyncMode.REPLACE, BIG_ROWS // 2), (SyncMode.UPSERT, BIG_ROWS // 3)],
)
def test_a_sync_killed_mid_copy_leaves_the_old_partition_and_state(
    mode, copied_rows, big_day, ledger_source, pg_server, source_db, target_db
):
    spec = ledger.spec(mode)
    with sync_service(big_day) as service:
        service.sync(spec, START, END)
    ledger.restate(ledger_source, BIG_DAY)
    before = ledger.snapshot(pg_server, target_db)

    child = _start_child(big_day, mode)
    backend = _wait_for_copied_rows(pg_server, target_db, copied_rows)
    _kill(child)
    wait_until_gone(pg_server, backend)

    assert ledger.snapshot(pg_server, target_db) == before
    _then_a_new_run_matches_the_source(big_day, spec, pg_server, source_db, target_db)


def test_a_sync_killed_during_the_upsert_merge_leaves_the_old_partition_and_state(
    big_day, ledger_source, pg_server, source_db, target_db
):
    spec = ledger.spec(SyncMode.UPSERT)
    with sync_service(big_day) as service:
        service.sync(spec, START, END)
    ledger.restate(ledger_source, BIG_DAY)
    before = ledger.snapshot(pg_server, target_db)
    with closing(pg_server.connect(target_db)) as conn, conn, conn.cursor() as cursor:
        # Keeps the merge on screen long enough to be caught running.
        cursor.execute(
            "CREATE FUNCTION public.qs_pause() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN PERFORM pg_sleep(0.5); RETURN NULL; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER qs_slow AFTER INSERT ON cost.usage_lines"
            " FOR EACH STATEMENT EXECUTE FUNCTION public.qs_pause()"
        )

    child = _start_child(big_day, SyncMode.UPSERT)
    backend = wait_for_statement(pg_server, target_db, "WITH merged AS")
    _kill(child)
    wait_until_gone(pg_server, backend)

    assert ledger.snapshot(pg_server, target_db) == before
    with closing(pg_server.connect(target_db)) as conn, conn, conn.cursor() as cursor:
        cursor.execute("DROP FUNCTION public.qs_pause() CASCADE")
    _then_a_new_run_matches_the_source(big_day, spec, pg_server, source_db, target_db)


def test_a_sync_killed_between_the_cursors_of_a_sliced_day_leaves_the_old_partition_and_state(
    big_day, ledger_source, pg_server, source_db, target_db
):
    # The big day exceeds the budget, so it is read by several cursors, one after another, into
    # the day's one COPY; more rows copied than one slice may hold means a later cursor is open.
    budget = BIG_ROWS // 4
    spec = ledger.spec(SyncMode.REPLACE, cursor_budget_rows=budget)
    with sync_service(big_day) as service:
        service.sync(spec, START, END)
    ledger.restate(ledger_source, BIG_DAY)
    before = ledger.snapshot(pg_server, target_db)

    child = _start_child(big_day, SyncMode.REPLACE, cursor_budget_rows=budget)
    backend = _wait_for_copied_rows(pg_server, target_db, budget + 1)
    _kill(child)
    wait_until_gone(pg_server, backend)

    assert ledger.snapshot(pg_server, target_db) == before
    _then_a_new_run_matches_the_source(big_day, spec, pg_server, source_db, target_db)
