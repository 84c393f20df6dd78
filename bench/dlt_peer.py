"""The peer: dlt copying the same CUR table into the same server (runs in dlt's own virtualenv).

Run by ``bench/peer.py`` with the interpreter of ``bench/.work/dlt-venv``, so it imports nothing
from QuperSync. dlt's ``sql_table`` source with the pyarrow backend (its fastest), merge on the
CUR primary key, into the postgres destination, with dlt's default settings otherwise. Its source
is the PostgreSQL database behind the Redshift emulator, read directly: dlt's SQLAlchemy Redshift
dialect cannot talk to the emulator, and skipping the emulator favours dlt.

Prints one JSON line: rows loaded, seconds taken by ``pipeline.run`` (extract, normalize and
load) and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from urllib.parse import quote

import dlt
from dlt.sources.sql_database import sql_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--socket-dir", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--source-db", required=True)
    parser.add_argument("--source-schema", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--target-db", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--primary-key", required=True, help="comma-separated")
    parser.add_argument("--pipelines-dir", required=True)
    args = parser.parse_args()

    socket = quote(args.socket_dir, safe="")
    source_url = (
        f"postgresql+psycopg2://{args.user}@/{args.source_db}?host={socket}&port={args.port}"
    )
    # dlt insists on a password; the private server trusts local connections and ignores it.
    target_url = (
        f"postgresql://{args.user}:unused@localhost:{args.port}/{args.target_db}?host={socket}"
    )
    started = time.perf_counter()
    table = sql_table(
        credentials=source_url, schema=args.source_schema, table=args.table, backend="pyarrow"
    )
    table.apply_hints(primary_key=args.primary_key.split(","), write_disposition="merge")
    pipeline = dlt.pipeline(
        pipeline_name="qupersync_bench_peer",
        destination=dlt.destinations.postgres(credentials=target_url),
        dataset_name=args.dataset,
        pipelines_dir=args.pipelines_dir,
    )
    pipeline.run(table)
    seconds = time.perf_counter() - started
    rows = pipeline.last_trace.last_normalize_info.row_counts.get(args.table, 0)
    print(json.dumps({"seconds": seconds, "rows": rows, "peak_rss_mb": _peak_rss_mb()}))


def _peak_rss_mb() -> float:
    """This process's ``VmHWM`` (see bench/processes.py for why not ``ru_maxrss``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


if __name__ == "__main__":
    main()
