"""``python -m bench.unload``: one large CUR day by cursor and by UNLOAD, side by side.

One generated day (3,000,000 rows by default, ``--rows``) in the emulated Redshift is synced into
a fresh target twice, each time by a child process of its own (``bench.unload_child``): once
through the cursor (``DECLARE``/``FETCH`` on a single-node cluster, 1,000 rows per FETCH), once
through ``UNLOAD`` to the local S3 (moto's server, in this process) and back. For each path it
reports the sync's seconds and rows/s, the child's peak RSS (``VmHWM``), what UNLOAD staged, and
whether the target equals the source (md5 over every row and column, ``bench.checksum``). The
figures go into their own marked section of ``BENCHMARKS.md`` (``--output``), with how the
UNLOAD path scales on a real cluster.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

from bench import checksum, cur_source, sections
from bench.processes import REPO_ROOT, run_json
from bench.qupersync_child import PRIMARY_KEY, TARGET
from bench.servers import running_servers
from qupersync_dagster.devkit.embedded import ServerAddress, free_port
from qupersync_dagster.devkit.local_s3 import LocalS3

DAY = date(2026, 10, 15)
SOURCE_DB, TARGET_DB = "bench_unload_source", "bench_unload_target"
ROLE = "arn:aws:iam::123456789012:role/qupersync-unload"
RSS_TARGET_MB = 150
START = "<!-- unload-benchmark -->"
END = "<!-- /unload-benchmark -->"


@contextlib.contextmanager
def _s3_emulator(upstream: ServerAddress, s3: LocalS3, log_path: Path) -> Iterator[int]:
    """The emulator in its own process, its UNLOAD writing to ``s3``; yields its port."""
    endpoint, port = s3.endpoint, free_port()
    command = [
        *(sys.executable, "-m", "qupersync_dagster.devkit.redshift_emulator"),
        *("--upstream-host", upstream.host, "--upstream-port", str(upstream.port)),
        *("--port", str(port), "--s3-endpoint", str(endpoint.endpoint_url)),
        *("--s3-region", endpoint.region, "--s3-access-key-id", str(endpoint.access_key_id)),
        *("--s3-secret-access-key", str(endpoint.secret_access_key)),
    ]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
        try:
            assert process.stdout is not None
            if "listening" not in process.stdout.readline():
                raise RuntimeError(f"the emulator did not start (see {log_path})")
            yield port
        finally:
            process.terminate()
            process.wait(30)


def _sync(
    path: str, server: ServerAddress, port: int, s3: LocalS3, bucket: str, readers: int, logs: Path
) -> dict:
    server.create_database(TARGET_DB, replace=True)
    redshift = {
        "host": "127.0.0.1",
        "port": port,
        "database": SOURCE_DB,
        "user": server.user,
        "password": "emulator-trusts-any-password",
        "ssl": False,
        "timeout_s": 3600,
    }
    if path == "unload":
        redshift |= {
            "unload_bucket": bucket,
            "unload_iam_role": ROLE,
            "unload_region": s3.endpoint.region,
            "unload_endpoint_url": s3.endpoint.endpoint_url,
            "unload_readers": readers,
        }
    postgres = {"host": server.host, "port": server.port, "database": TARGET_DB}
    job = {"redshift": redshift, "postgres": postgres | {"user": server.user}}
    job |= {"day": DAY.isoformat(), "extract": path}
    keys = {
        "AWS_ACCESS_KEY_ID": str(s3.endpoint.access_key_id),
        "AWS_SECRET_ACCESS_KEY": str(s3.endpoint.secret_access_key),
    }
    command = [sys.executable, "-m", "bench.unload_child", "--job", json.dumps(job)]
    figures = run_json(command, logs / f"{path}.log", env=keys)
    source = checksum.Table(SOURCE_DB, cur_source.SCHEMA, cur_source.TABLE)
    target = checksum.Table(TARGET_DB, TARGET.schema, TARGET.name)
    columns = checksum.source_columns(server, source)
    figures["md5_equal"] = checksum.digest(server, source, columns, PRIMARY_KEY) == (
        checksum.digest(server, target, columns, PRIMARY_KEY)
    )
    listed = s3.endpoint.client().list_objects_v2(Bucket=bucket)
    figures["left_staged"] = listed.get("KeyCount", 0)
    return figures


def _section(rows: int, results: dict[str, dict], readers: int) -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        START,
        "## One large day: cursor vs UNLOAD (`python -m bench.unload`)",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} cores, "
        f"load average {load} at the end. One generated CUR 2.0 day of {rows:,} rows in the "
        "strict emulator (single node: 1,000 rows per FETCH), synced in `replace` mode into an "
        "empty target by a child process; UNLOAD through the local S3 (moto's server in the "
        f"benchmark's own process), read back by {readers} readers. Peak RSS is the child's "
        f"`VmHWM`; target: under {RSS_TARGET_MB} MB on either path.",
        "",
        "| Path | Rows | Seconds | Rows/s | Peak RSS (MB) | Files staged | MB staged "
        "| md5 = source | Staged objects left | RSS target |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    for path, r in results.items():
        ok = "PASS" if r["peak_rss_mb"] < RSS_TARGET_MB else "FAIL"
        lines.append(
            f"| {path} ({r['method']}) | {r['rows']:,} | {r['seconds']:.1f} "
            f"| {r['rows'] / r['seconds']:,.0f} | {r['peak_rss_mb']:.0f} | {r['files']} "
            f"| {r['bytes_staged'] / 1e6:.1f} | {'yes' if r['md5_equal'] else 'NO'} "
            f"| {r['left_staged']} | {ok} |"
        )
    lines += ["", _HERE, "", _SCALING, END]
    return "\n".join(lines) + "\n"


_HERE = """The UNLOAD path's seconds include the emulator's UNLOAD itself: one PostgreSQL
`COPY … TO STDOUT` for every "slice", compressed and uploaded into moto, on the same two cores as
the sync and its target (a cluster's slices do that work on their own nodes, in parallel). Its
peak RSS is the reading client, the bounded queues and boto3's S3 client (about 14 MB on its
own); it does not grow with the day (the same run at 100,000 rows: 120 MB; cursor 76 MB)."""

_SCALING = """**On a real cluster.** Here one PostgreSQL plays every slice, so the UNLOAD is a
single `COPY … TO STDOUT` and the figures compare the two read paths on one machine, not the
cluster.
On Redshift, the cursor path is bounded by the leader node: it materialises the whole result
before the first `FETCH` (so a day's first row waits for all of it, and its size is capped per
node type), then serves `FETCH`es one round trip at a time through one connection, whatever the
cluster's size. `UNLOAD … PARALLEL ON` has every slice write its own gzip files straight to S3, so
the write side grows with the slice count (an ra3.4xlarge node has 4 slices; 4 nodes write 16
files at once) and S3 is not the limit at these sizes. The read side is the run worker:
`REDSHIFT_UNLOAD_READERS` files are downloaded and inflated concurrently (each reader holds at most
one batch of about 1 MB in the making, the queue two batches per reader), and the target's single
`COPY` takes them in one transaction; past a few readers the day is bound by that `COPY` (one
PostgreSQL backend, about a core), so readers beyond the number of cores the worker has, or beyond
the slice count, add nothing. Memory stays flat with the day's size on both paths; only the
number of readers moves it."""


def region(text: str) -> str:
    """The marked UNLOAD region of a BENCHMARKS.md text, or an empty string."""
    return sections.region(text, START, END)


def _write(path: Path, section: str) -> None:
    """Put ``section`` into ``path``: in place of its UNLOAD region, else at its end."""
    text = path.read_text() if path.exists() else ""
    old = region(text)
    path.write_text(text.replace(old, section) if old else text.rstrip("\n") + "\n\n" + section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=3_000_000)
    parser.add_argument("--readers", type=int, default=4, help="REDSHIFT_UNLOAD_READERS")
    parser.add_argument("--output", type=Path, help="write the section into this BENCHMARKS.md")
    parser.add_argument("--work-dir", type=Path, default=REPO_ROOT / "bench" / ".work" / "unload")
    args = parser.parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    logs = args.work_dir / "logs"
    logs.mkdir(exist_ok=True)
    with (
        running_servers(args.work_dir, logs) as servers,
        LocalS3() as s3,
        _s3_emulator(servers.postgres, s3, logs / "s3-emulator.log") as port,
    ):
        server = servers.postgres
        print(f"generating one day of {args.rows:,} CUR rows …", flush=True)
        cur_source.create(server, SOURCE_DB, start=DAY, days=1, rows=args.rows)
        bucket = s3.create_bucket()
        results = {}
        for path in ("cursor", "unload"):
            print(f"syncing by {path} …", flush=True)
            results[path] = _sync(path, server, port, s3, bucket, args.readers, logs)
            print(json.dumps(results[path]), flush=True)
    section = _section(args.rows, results, args.readers)
    print(section)
    if args.output:
        _write(args.output, section)


if __name__ == "__main__":
    main()
