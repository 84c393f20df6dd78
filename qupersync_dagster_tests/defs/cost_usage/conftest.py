"""CUR data that ends today (UTC), for the checks, schedule and sensor that judge by today's date.

The source holds ``DAYS`` days of generated line items up to and including today; the table list
starts on the first of them, so the sensor's whole-history window is exactly those days.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest

from qupersync_dagster.definitions import build_definitions
from qupersync_dagster.defs.cost_usage.schedules import partition_tags
from qupersync_dagster.defs.resources import PostgresResource, RedshiftResource
from qupersync_dagster.devkit import cur_data
from qupersync_dagster.infrastructure.table_list import TableList, load_table_list

DAYS = 5
ROWS_PER_DAY = 40
TABLE = "cur_line_items"
SOURCE_TABLE = "billing.cur_line_items"
TARGET_TABLE = "cost.cur_line_items"


@pytest.fixture
def today() -> date:
    return datetime.now(UTC).date()


@pytest.fixture
def days(today) -> list[date]:
    """The days the source has rows for, oldest first; the last is today."""
    return [today - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]


@pytest.fixture
def money() -> cur_data.Money:
    """The type of the source's costs (a test may parametrize it)."""
    return cur_data.Money.DOUBLE


@pytest.fixture
def recent_source(pg_server, source_db, days, money):
    """``billing.cur_line_items`` with ``ROWS_PER_DAY`` rows on each of ``days``."""
    conn = pg_server.connect(source_db)
    try:
        cur_data.create_source_table(conn, "billing", TABLE, money=money)
        cur_data.generate(
            conn, "billing", TABLE, start=days[0], days=DAYS, rows=DAYS * ROWS_PER_DAY
        )
        yield conn
    finally:
        conn.close()


@pytest.fixture
def table_list(tmp_path, days) -> TableList:
    path = tmp_path / "tables.yaml"
    path.write_text(
        f"""
tables:
  - name: {TABLE}
    source: {SOURCE_TABLE}
    target: {TARGET_TABLE}
    partition_column: line_item_usage_start_date
    start_date: "{days[0].isoformat()}"
    mode: replace
    primary_key: [identity_line_item_id, identity_time_interval]
    measure_column: line_item_unblended_cost
    cron: "0 6 * * *"
    schedule_lookback_days: 2
    freshness_lag_days: 2
summary:
  from_table: {TABLE}
  target: cost.cost_usage_summary
"""
    )
    return load_table_list(path)


@pytest.fixture
def spec(table_list):
    return table_list.table(TABLE)


@pytest.fixture
def defs(table_list) -> dg.Definitions:
    return build_definitions(table_list)


@pytest.fixture
def resources(pg_server, redshift_emulator, source_db, target_db) -> dict:
    return {
        "redshift": RedshiftResource(
            host=redshift_emulator.host,
            port=redshift_emulator.port,
            database=source_db,
            user=pg_server.user,
            password="x",
            ssl=False,
        ),
        "postgres": PostgresResource(
            host=pg_server.host, port=pg_server.port, database=target_db, user=pg_server.user
        ),
    }


@pytest.fixture
def run_job(defs, resources):
    """Run a job of ``defs`` in process against the test servers, with the given run tags."""

    def run(job_name: str, tags: dict[str, str], **kwargs) -> dg.ExecuteInProcessResult:
        job = defs.resolve_job_def(job_name)
        return job.execute_in_process(resources=resources, tags=tags, **kwargs)

    return run


@pytest.fixture
def sync(run_job, recent_source):
    """Sync ``first..last`` of the table (with its summary and checks) in one run."""

    def run(first: date, last: date) -> dg.ExecuteInProcessResult:
        result = run_job(f"{TABLE}_sync", partition_tags(first, last))
        assert result.success
        return result

    return run


@pytest.fixture
def target_conn(pg_server, target_db):
    """A connection to the target database, autocommitting, for edits made behind the sync."""
    conn = pg_server.connect(target_db)
    conn.autocommit = True
    try:
        yield conn
    finally:
        conn.close()
