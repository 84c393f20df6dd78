"""The daily summary against a real server, reached through the same guard as every other write.

A summary rebuild blocked on the target must end like a day's sync does: cut off at the client
deadline with a retryable error naming the summary, and nothing half-written.
"""

from __future__ import annotations

import contextlib
from datetime import date

import pytest

from qupersync_dagster.domain.entities import (
    SUMMARY_DIMENSIONS,
    SUMMARY_MEASURES,
    SummarySpec,
    TableRef,
    TableSpec,
)
from qupersync_dagster.domain.errors import TargetUnavailableError
from qupersync_dagster.infrastructure.postgres import summary
from qupersync_dagster.infrastructure.postgres.connector import PostgresSettings, create_engine
from qupersync_dagster.infrastructure.postgres.guard import GuardedEngine

pytestmark = pytest.mark.integration

DAY = date(2026, 8, 3)
LINES = TableSpec(
    name="lines",
    source=TableRef("billing", "lines"),
    target=TableRef("cost", "lines"),
    partition_column="line_item_usage_start_date",
    start_date=DAY,
)
SUMMARY = SummarySpec(from_table="lines", target=TableRef("cost", "cost_usage_summary"))


@pytest.fixture
def lines(db):
    """Three line items of ``DAY`` in two groups (account 111: two rows, account 222: one)."""
    columns = [f"{column} text" for _, column in SUMMARY_DIMENSIONS]
    columns += [f"{column} numeric" for _, column in SUMMARY_MEASURES]
    db.execute("CREATE SCHEMA cost")
    db.execute(
        f"CREATE TABLE cost.lines (line_item_usage_start_date timestamp, {', '.join(columns)})"
    )
    for account, cost in (("111", "1.25"), ("111", "2.50"), ("222", "4.00")):
        db.execute(
            "INSERT INTO cost.lines (line_item_usage_start_date, line_item_usage_account_id,"
            " line_item_unblended_cost) VALUES (%s, %s, %s)",
            (f"{DAY} 10:00:00", account, cost),
        )


@pytest.fixture
def guarded(pg_server, target_db):
    """The target with a 1 s client deadline; the server's own limit only stops a regression
    from hanging the suite."""
    settings = PostgresSettings(
        host=pg_server.host,
        port=pg_server.port,
        database=target_db,
        user=pg_server.user,
        password=pg_server.password,
        statement_timeout_ms=30_000,
    )
    engine = create_engine(settings)
    try:
        yield GuardedEngine(engine, timeout_s=1)
    finally:
        engine.dispose()


def _summary(db) -> list[tuple]:
    db.execute(
        "SELECT usage_date, usage_account_id, unblended_cost::text, line_count"
        " FROM cost.cost_usage_summary ORDER BY 2"
    )
    return db.fetchall()


def test_a_rebuild_writes_one_row_per_day_and_group(lines, guarded, db):
    written = summary.rebuild(guarded, SUMMARY, LINES, DAY, date(2026, 8, 4))

    assert written == 2
    assert _summary(db) == [(DAY, "111", "3.75", 2), (DAY, "222", "4.00", 1)]


def test_a_rebuild_blocked_on_the_target_is_cut_off_at_the_deadline(
    lines, guarded, db, pg_server, target_db
):
    summary.rebuild(guarded, SUMMARY, LINES, DAY, date(2026, 8, 4))
    before = _summary(db)

    with contextlib.closing(pg_server.connect(target_db)) as holder, holder.cursor() as cursor:
        cursor.execute("LOCK TABLE cost.cost_usage_summary IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(TargetUnavailableError) as failure:
            summary.rebuild(guarded, SUMMARY, LINES, DAY, date(2026, 8, 4))
        holder.rollback()

    assert failure.value.retryable
    assert str(failure.value).startswith("table 'cost_usage_summary': the target did not answer")
    assert _summary(db) == before
