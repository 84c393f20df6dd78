"""One day synced in a process of its own, by cursor or by UNLOAD: ``python -m bench.unload_child``.

The same engine call as ``bench.qupersync_child`` (``SyncService.sync`` built by
``qupersync_dagster.bootstrap``), with the table's ``extract`` set to the path measured and, for
UNLOAD, the S3 staging settings. Prints one JSON line: seconds, rows, the process's peak RSS and
how the day was extracted.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from datetime import date, timedelta

from bench.processes import peak_rss_mb
from bench.qupersync_child import cur_spec
from qupersync_dagster.bootstrap import open_sync_service
from qupersync_dagster.domain.entities import ExtractMethod
from qupersync_dagster.infrastructure.postgres.connector import PostgresSettings
from qupersync_dagster.infrastructure.redshift.connector import RedshiftSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--job", required=True, help="JSON: redshift, postgres, day, extract")
    job = json.loads(parser.parse_args().job)
    day = date.fromisoformat(job["day"])
    spec = replace(cur_spec(day), extract=ExtractMethod(job["extract"]))
    started = time.perf_counter()
    with open_sync_service(
        RedshiftSettings(**job["redshift"]), PostgresSettings(**job["postgres"])
    ) as service:
        (result,) = service.sync(spec, day, day + timedelta(days=1))
    seconds = time.perf_counter() - started
    extraction = result.extraction
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rows": result.rows_extracted,
                "peak_rss_mb": peak_rss_mb(),
                "method": extraction.method.value if extraction else None,
                "files": extraction.files if extraction else 0,
                "bytes_staged": extraction.bytes_staged if extraction else 0,
            }
        )
    )


if __name__ == "__main__":
    main()
