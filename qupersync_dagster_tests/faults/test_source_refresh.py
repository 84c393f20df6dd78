"""A CUR loader dropping and re-creating the source table mid-month loses nothing.

Loaders refresh a month by dropping the table and loading it again. A sync that meets the gap
must fail with a retryable ``SourceTableMissingError`` and keep every day it already committed;
once the table is back, a retry must sync the rest. A sync that meets the re-created table with
different rows than it fingerprinted must converge on the next run.
"""

from __future__ import annotations

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


def _drop(conn) -> None:
    with conn, conn.cursor() as cursor:
        cursor.execute(f"DROP TABLE {ledger.SCHEMA}.{ledger.TABLE}")


def _reload(conn) -> None:
    """What the loader does after the drop: the same month, delivered again."""
    ledger.create(conn)
    ledger.fill(conn, days=3, rows_per_day=400)


@pytest.mark.parametrize("mode", [SyncMode.REPLACE, SyncMode.UPSERT])
def test_a_table_dropped_between_days_fails_retryably_and_keeps_the_days_synced(
    mode, endpoints, ledger_source, pg_server, source_db, target_db
):
    """The drop lands after the fingerprints were read and the first day was committed."""
    spec = ledger.spec(mode)
    committed = []

    def drop_after_first_day(result) -> None:
        committed.append(result.partition)
        if len(committed) == 1:
            _drop(ledger_source)

    with sync_service(endpoints) as service:
        with pytest.raises(SourceTableMissingError) as failure:
            service.sync(spec, START, END, on_result=drop_after_first_day)
        assert failure.value.retryable
        assert f"partition {(START + timedelta(days=1)).isoformat()}" in str(failure.value)
        first_day = ledger.digest(pg_server, target_db, target=True, day=START)
        assert first_day[0] == 400 and ledger.snapshot(pg_server, target_db)[0] == first_day

        _reload(ledger_source)
        results = service.sync(spec, START, END)

    assert [r.outcome for r in results] == [UNCHANGED, SYNCED, SYNCED]
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

    def reload_restated_after_first_day(result) -> None:
        seen.append(result.partition)
        if len(seen) == 1:
            _drop(ledger_source)
            _reload(ledger_source)
            ledger.restate(ledger_source, START + timedelta(days=2))

    with sync_service(endpoints) as service:
        service.sync(spec, START, END, on_result=reload_restated_after_first_day)
        assert not ledger.mirrors_source(pg_server, source_db, target_db, START, 3)

        results = service.sync(spec, START, END)

    assert [r.outcome for r in results] == [UNCHANGED, UNCHANGED, SYNCED]
    ledger.assert_mirrors_source(pg_server, source_db, target_db, START, 3)
