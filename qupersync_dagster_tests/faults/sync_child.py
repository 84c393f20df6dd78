"""Run one sync in a process of its own, so that a test can SIGKILL it in the middle of a load.

A thread cannot be killed, and killing the test process would end the test; a child process
dies exactly as a Dagster run worker does when its pod is evicted or OOM-killed.

    python -m qupersync_dagster_tests.faults.sync_child '{"redshift": {...}, "postgres": {...},
        "mode": "replace", "start": "2026-10-01", "end": "2026-10-04"}'
"""

from __future__ import annotations

import json
import sys
from datetime import date

from qupersync_dagster.bootstrap import open_sync_service
from qupersync_dagster.domain.entities import ExtractMethod, SyncMode
from qupersync_dagster.infrastructure.postgres.connector import PostgresSettings
from qupersync_dagster.infrastructure.redshift.connector import RedshiftSettings
from qupersync_dagster_tests.faults import ledger


def main(argument: str) -> None:
    job = json.loads(argument)
    overrides = job.get("spec", {})
    if "extract" in overrides:
        overrides["extract"] = ExtractMethod(overrides["extract"])
    spec = ledger.spec(SyncMode(job["mode"]), **overrides)
    with open_sync_service(
        RedshiftSettings(**job["redshift"]), PostgresSettings(**job["postgres"])
    ) as service:
        for result in service.sync(
            spec, date.fromisoformat(job["start"]), date.fromisoformat(job["end"])
        ):
            print(json.dumps({"partition": result.partition, "outcome": result.outcome.value}))


if __name__ == "__main__":
    main(sys.argv[1])
