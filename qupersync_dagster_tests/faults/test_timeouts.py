"""Hung servers and slow statements end a run with a retryable error instead of hanging it.

The source side is bounded by the driver's socket timeout (``RedshiftSettings.timeout_s``) and
by ``statement_timeout_ms``; the target side by ``PostgresSettings.statement_timeout_ms`` and
``lock_timeout_ms``. Each test makes one of them bite, checks the target is as before, and
retries with the obstacle gone. Runs are joined with a generous limit only so that a regression
fails the test instead of hanging the suite.
"""

from __future__ import annotations

import dataclasses
from contextlib import closing
from datetime import timedelta

import pytest

from qupersync_dagster.domain.errors import SourceUnavailableError, TargetUnavailableError
from qupersync_dagster_tests.faults import ledger
from qupersync_dagster_tests.faults.activity import Background
from qupersync_dagster_tests.faults.services import sync_service

pytestmark = [pytest.mark.integration, pytest.mark.faults]

START = ledger.START
END = START + timedelta(days=3)
RESTATED = START + timedelta(days=1)


@pytest.fixture
def restated(endpoints, ledger_source):
    """Three days mirrored, the middle one restated at the source since."""
    with sync_service(endpoints) as service:
        service.sync(ledger.spec(), START, END)
    ledger.restate(ledger_source, RESTATED)
    return endpoints


def _retry(endpoints, pg_server, source_db, target_db) -> None:
    with sync_service(endpoints) as service:
        service.sync(ledger.spec(), START, END)
    ledger.assert_mirrors_source(pg_server, source_db, target_db, START, 3)


@pytest.mark.parametrize("messages", [45, 160], ids=["in-describe", "mid-extract"])
def test_a_hung_source_fails_within_the_socket_timeout(
    messages, restated, source_wire, pg_server, source_db, target_db
):
    before = ledger.snapshot(pg_server, target_db)
    hung = dataclasses.replace(restated, redshift={"timeout_s": 1})
    source_wire.stall_after(server_messages=messages)

    with sync_service(hung) as service:
        run = Background(lambda: service.sync(ledger.spec(), START, END))
        with pytest.raises(SourceUnavailableError) as failure:
            run.result()
    assert failure.value.retryable
    assert "TimeoutError" in str(failure.value) or "timed out" in str(failure.value)
    assert ledger.snapshot(pg_server, target_db) == before
    _retry(restated, pg_server, source_db, target_db)


def test_a_slow_source_statement_is_cancelled_by_statement_timeout(
    restated, pg_server, source_db, target_db
):
    """A loader's open transaction holds the source table, so reading it does not finish."""
    before = ledger.snapshot(pg_server, target_db)
    limited = dataclasses.replace(restated, redshift={"statement_timeout_ms": 200})

    with closing(pg_server.connect(source_db)) as loader, loader.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {ledger.SCHEMA}.{ledger.TABLE} IN ACCESS EXCLUSIVE MODE")
        with sync_service(limited) as service, pytest.raises(SourceUnavailableError) as failure:
            Background(lambda: service.sync(ledger.spec(), START, END)).result()
        loader.rollback()
    assert failure.value.retryable and "timeout" in str(failure.value)
    assert ledger.snapshot(pg_server, target_db) == before
    _retry(restated, pg_server, source_db, target_db)


def test_a_slow_target_statement_is_cancelled_by_statement_timeout(
    restated, pg_server, source_db, target_db
):
    before = ledger.snapshot(pg_server, target_db)
    with closing(pg_server.connect(target_db)) as conn, conn, conn.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION public.qs_pause() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN PERFORM pg_sleep(30); RETURN NULL; END $$"
        )
        cursor.execute(
            f"CREATE TRIGGER qs_slow AFTER INSERT ON {ledger.TARGET_SCHEMA}.{ledger.TABLE}"
            " FOR EACH STATEMENT EXECUTE FUNCTION public.qs_pause()"
        )
    limited = dataclasses.replace(restated, postgres={"statement_timeout_ms": 300})

    with sync_service(limited) as service, pytest.raises(TargetUnavailableError) as failure:
        Background(lambda: service.sync(ledger.spec(), START, END)).result()
    assert failure.value.retryable
    assert "statement timeout" in str(failure.value)
    assert f"partition {RESTATED.isoformat()}" in str(failure.value)
    assert ledger.snapshot(pg_server, target_db) == before

    with closing(pg_server.connect(target_db)) as conn, conn, conn.cursor() as cursor:
        cursor.execute("DROP FUNCTION public.qs_pause() CASCADE")
    _retry(restated, pg_server, source_db, target_db)


def test_a_run_stuck_behind_another_partition_lock_gives_up_after_lock_timeout(
    restated, pg_server, source_db, target_db
):
    """Another session holds the restated day's advisory lock, as a hung earlier run would."""
    before = ledger.snapshot(pg_server, target_db)
    limited = dataclasses.replace(restated, postgres={"lock_timeout_ms": 300})

    with closing(pg_server.connect(target_db)) as holder, holder.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s), hashtext(%s))",
            (ledger.TABLE, RESTATED.isoformat()),
        )
        with sync_service(limited) as service, pytest.raises(TargetUnavailableError) as failure:
            Background(lambda: service.sync(ledger.spec(), START, END)).result()
        holder.rollback()
    assert failure.value.retryable and "lock timeout" in str(failure.value)
    assert ledger.snapshot(pg_server, target_db) == before
    _retry(restated, pg_server, source_db, target_db)


# Positions in the target conversation: while the target table is described, and inside the
# restated day's transaction.
@pytest.mark.parametrize(
    ("messages", "where"),
    [(60, ""), (80, f", partition {RESTATED.isoformat()}")],
    ids=["describing", "in-a-day"],
)
def test_a_target_that_stops_answering_is_cut_off_after_timeout_s(
    messages, where, restated, target_wire, pg_server, source_db, target_db
):
    """The proxy keeps the TCP connection open but forwards nothing back: only a client-side
    deadline can end the wait."""
    before = ledger.snapshot(pg_server, target_db)
    hung = dataclasses.replace(restated, target_proxy=target_wire, postgres={"timeout_s": 2})
    target_wire.stall_after(server_messages=messages)
    with sync_service(hung) as service:
        run = Background(lambda: service.sync(ledger.spec(), START, END))
        with pytest.raises(TargetUnavailableError) as failure:
            run.result()
    assert failure.value.retryable
    assert f"table {ledger.TABLE!r}{where}: the target did not answer within 2 s" in str(
        failure.value
    )
    assert ledger.snapshot(pg_server, target_db) == before
    _retry(restated, pg_server, source_db, target_db)
