"""A CUR loader dropping and re-creating the source table mid-month loses nothing.

Loaders refresh a month by dropping the table and loading it again. A sync that meets the gap
must fail with a retryable ``SourceTableMissingError`` and keep every day it already committed;
once the table is back, a retry must sync the rest. A sync that meets the re-created table with
different rows than it fingerprinted must converge on the next run.

The mid-run scenarios follow one connection's days in order (``read_connections`` 1), so that
"after the first day" is a moment between two reads; lanes are covered in ``test_lanes``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import replace
from datetime import timedelta

import pytest

from qupersync_dagster.domain.entities import PartitionOutcome, SyncMode
from qupersync_dagster.infrastructure.redshift.repository import SourceTableMissingError
from qupersync_dagster_tests.faults import ledger
from qupersync_dagster_tests.faults.services import sync_service

pytestmark = [pytest.mark.integration, pytest.mark.faults]

START = ledger.START
END = START + timedelta(days=3)
SYNCED, UNCHANGED = PartitionOutcome.SYNCED, PartitionOutcome.UNCHANGED


_DROP = f"DROP TABLE {ledger.SCHEMA}.{ledger.TABLE}"
_LOADER_PATIENCE_S = 60.0


def _drop(conn) -> None:
    with conn, conn.cursor() as cursor:
        cursor.execute(_DROP)


def _reload(conn) -> None:
    """What the loader does after the drop: the same month, delivered again."""
    ledger.create(conn)
    ledger.fill(conn, days=3, rows_per_day=400)


def _reload_restated(conn, day) -> None:
    """A loader refreshing the month in one transaction: dropped, loaded, ``day`` restated."""
    with conn, conn.cursor() as cursor:
        cursor.execute(_DROP)
        ledger.create_in(cursor)
        ledger.fill_in(cursor, days=3, rows_per_day=400)
        ledger.restate_in(cursor, day)


class _Loader:
    """A CUR loader at work beside the sync, as the process of its own it is in production.

    Neither waits for the other: the sync reads the next day while it reports the last one, and
    a read holds the table while it lasts, so the loader's DDL waits for that read, as it would
    on a cluster.
    """

    def __init__(self, work, *args) -> None:
        self._thread = threading.Thread(target=work, args=args, name="cur-loader")
        self._thread.start()

    def finish(self) -> None:
        self._thread.join(_LOADER_PATIENCE_S)
        assert not self._thread.is_alive(), "the loader never got hold of the table"


def _until_dropped_or_waiting(server, database) -> None:
    """Until the loader's DROP has run or waits for a read to let go of the table."""
    deadline = time.monotonic() + _LOADER_PATIENCE_S
    with contextlib.closing(server.connect(database)) as conn:
        conn.autocommit = True
        with conn.cursor() as cursor:
            while True:
                cursor.execute(
                    "SELECT to_regclass(%s) IS NULL OR EXISTS (SELECT FROM pg_stat_activity"
                    " WHERE query = %s AND wait_event_type = 'Lock')",
                    (f"{ledger.SCHEMA}.{ledger.TABLE}", _DROP),
                )
                if cursor.fetchone()[0]:
                    return
                assert time.monotonic() < deadline, "the loader's DROP never ran"
                time.sleep(0.01)


@pytest.mark.parametrize("mode", [SyncMode.REPLACE, SyncMode.UPSERT])
def test_a_table_dropped_between_days_fails_retryably_and_keeps_the_days_synced(
    mode, endpoints, ledger_source, pg_server, source_db, target_db
):
    """The drop comes once the fingerprints were read and the first day was committed.

    The next day's read may already hold the table then: the drop waits for it, and the read
    after it fails instead. Either way every day committed before the failure stays.
    """
    spec = ledger.spec(mode)
    committed = []
    loaders = []

    def drop_after_first_day(result) -> None:
        committed.append(result.partition)
        if len(committed) == 1:
            loaders.append(_Loader(_drop, ledger_source))
            _until_dropped_or_waiting(pg_server, source_db)

    with sync_service(_one_connection(endpoints)) as service:
        with pytest.raises(SourceTableMissingError) as failure:
            service.sync(spec, START, END, on_result=drop_after_first_day)
        loaders[0].finish()
        kept = len(committed)
        assert kept in (1, 2)
        assert failure.value.retryable
        assert f"partition {(START + timedelta(days=kept)).isoformat()}" in str(failure.value)
        days_kept = [
            ledger.digest(pg_server, target_db, target=True, day=day)
            for day in ledger.days(START, kept)
        ]
        assert [rows for rows, _ in days_kept] == [400] * kept
        assert ledger.snapshot(pg_server, target_db)[0][0] == 400 * kept

        _reload(ledger_source)
        results = service.sync(spec, START, END)

    assert [r.outcome for r in results] == [UNCHANGED] * kept + [SYNCED] * (3 - kept)
    ledger.assert_mirrors_source(pg_server, source_db, target_db, START, 3)


def test_a_table_missing_when_the_run_starts_fails_retryably_and_writes_nothing(
    endpoints, ledger_source, pg_server, source_db, target_db
):
    spec = ledger.spec()
    with sync_service(endpoints) as service:
        service.sync(spec, START, END)
        before = ledger.snapshot(pg_server, target_db)
        _drop(ledger_source)

        with pytest.raises(SourceTableMissingError) as failure:
            service.sync(spec, START, END)
        assert failure.value.retryable
        assert ledger.snapshot(pg_server, target_db) == before

        _reload(ledger_source)
        results = service.sync(spec, START, END)

    assert [r.outcome for r in results] == [UNCHANGED, UNCHANGED, UNCHANGED]
    ledger.assert_mirrors_source(pg_server, source_db, target_db, START, 3)


def test_a_table_reloaded_with_other_rows_mid_run_converges_on_the_next_run(
    endpoints, ledger_source, pg_server, source_db, target_db
):
    """Days read after the reload carry fingerprints of the old rows; the next run sees it."""
    spec = ledger.spec()
    seen = []
    loaders = []

    def reload_restated_after_first_day(result) -> None:
        seen.append(result.partition)
        if len(seen) == 1:
            loaders.append(_Loader(_reload_restated, ledger_source, START + timedelta(days=2)))

    with sync_service(_one_connection(endpoints)) as service:
        service.sync(spec, START, END, on_result=reload_restated_after_first_day)
        loaders[0].finish()
        assert not ledger.mirrors_source(pg_server, source_db, target_db, START, 3)

        results = service.sync(spec, START, END)

    assert [r.outcome for r in results] == [UNCHANGED, UNCHANGED, SYNCED]
    ledger.assert_mirrors_source(pg_server, source_db, target_db, START, 3)


def _one_connection(endpoints):
    return replace(endpoints, redshift=endpoints.redshift | {"read_connections": 1})
