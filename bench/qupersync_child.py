"""One QuperSync sync in a process of its own: ``python -m bench.qupersync_child ARGS``.

Makes exactly the engine call a Dagster backfill of the range in a single run makes --
``SyncService(source, target).sync(spec, start, end)`` with the service built by
``qupersync_dagster.bootstrap`` as the Dagster resources build it -- through the real
``redshift_connector`` driver and the wire emulator. Dagster itself is not imported: the figures
are those of the sync, not of the orchestrator around it. Prints one JSON line with the timings,
the process's peak RSS and every partition's outcome.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date, timedelta

from bench.cur_source import PARTITION_COLUMN, SCHEMA, TABLE
from bench.processes import peak_rss_mb
from qupersync_dagster.bootstrap import open_sync_service
from qupersync_dagster.domain.entities import SyncMode, TableRef, TableSpec
from qupersync_dagster.infrastructure.postgres.connector import PostgresSettings
from qupersync_dagster.infrastructure.redshift.connector import RedshiftSettings

TARGET = TableRef("cost", TABLE)
PRIMARY_KEY = ("identity_line_item_id", "identity_time_interval")


def cur_spec(start: date) -> TableSpec:
    """The CUR table as ``config/tables.yaml`` configures it."""
    return TableSpec(
        name=TABLE,
        source=TableRef(SCHEMA, TABLE),
        target=TARGET,
        partition_column=PARTITION_COLUMN,
        start_date=start,
        mode=SyncMode.REPLACE,
        primary_key=PRIMARY_KEY,
        measure_column="line_item_unblended_cost",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--emulator-host", required=True)
    parser.add_argument("--emulator-port", type=int, required=True)
    parser.add_argument("--source-db", required=True)
    parser.add_argument("--pg-host", required=True)
    parser.add_argument("--pg-port", type=int, required=True)
    parser.add_argument("--pg-user", required=True)
    parser.add_argument("--target-db", required=True)
    parser.add_argument("--start", type=date.fromisoformat, required=True)
    parser.add_argument("--days", type=int, required=True)
    parser.add_argument("--fetch-size", type=int, help="default: RedshiftSettings' own")
    args = parser.parse_args()

    fetch_size = {"fetch_size": args.fetch_size} if args.fetch_size else {}
    redshift = RedshiftSettings(
        host=args.emulator_host,
        port=args.emulator_port,
        database=args.source_db,
        user=args.pg_user,
        password="emulator-trusts-any-password",
        ssl=False,
        **fetch_size,
    )
    postgres = PostgresSettings(
        host=args.pg_host, port=args.pg_port, database=args.target_db, user=args.pg_user
    )
    started = time.perf_counter()
    with open_sync_service(redshift, postgres) as service:
        results = service.sync(
            cur_spec(args.start), args.start, args.start + timedelta(days=args.days)
        )
        seconds = time.perf_counter() - started
    report = {
        "seconds": seconds,
        "rows": sum(r.rows_extracted for r in results),
        "peak_rss_mb": peak_rss_mb(),
        "partitions": [
            {
                "day": r.partition,
                "outcome": r.outcome.value,
                "rows": r.rows_extracted,
                "seconds": r.seconds,
            }
            for r in results
        ],
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
