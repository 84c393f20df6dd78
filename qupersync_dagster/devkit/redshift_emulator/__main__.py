"""``python -m qupersync_dagster.devkit.redshift_emulator``: the emulator in its own process."""

from __future__ import annotations

import argparse
import signal
import threading

from qupersync_dagster.devkit.embedded import ServerAddress
from qupersync_dagster.devkit.local_s3 import DEFAULT_REGION, S3Endpoint
from qupersync_dagster.devkit.redshift_emulator.emulator import RedshiftWireEmulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Serve a PostgreSQL server to redshift_connector as if it were Redshift."
    )
    parser.add_argument("--upstream-host", required=True, help="host or Unix socket directory")
    parser.add_argument("--upstream-port", type=int, required=True)
    parser.add_argument("--port", type=int, default=5439)
    parser.add_argument("--listen-host", default="127.0.0.1")
    parser.add_argument(
        "--strict",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="apply Redshift's rules to every session (default: on)",
    )
    parser.add_argument(
        "--multi-node", action="store_true", help="emulate a multi-node cluster (no FETCH limit)"
    )
    parser.add_argument(
        "--cursor-bytes-cap", type=int, default=None, help="largest cursor result, in bytes"
    )
    parser.add_argument(
        "--s3-endpoint", help="S3 endpoint URL UNLOAD writes to (without it, UNLOAD fails)"
    )
    parser.add_argument(
        "--s3-region", default=DEFAULT_REGION, help="the cluster's (and S3 client's) region"
    )
    parser.add_argument("--s3-access-key-id", help="else boto3's own credential chain")
    parser.add_argument("--s3-secret-access-key", help="else boto3's own credential chain")
    args = parser.parse_args(argv)

    done = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: done.set())
    upstream = ServerAddress(host=args.upstream_host, port=args.upstream_port, user="")
    s3 = None
    if args.s3_endpoint:  # never AWS's own endpoints by default
        s3 = S3Endpoint(
            endpoint_url=args.s3_endpoint,
            region=args.s3_region,
            access_key_id=args.s3_access_key_id,
            secret_access_key=args.s3_secret_access_key,
        )
    with RedshiftWireEmulator(
        upstream,
        listen_host=args.listen_host,
        listen_port=args.port,
        strict=args.strict,
        single_node=not args.multi_node,
        cursor_bytes_cap=args.cursor_bytes_cap,
        s3=s3,
    ) as emulator:
        print(
            f"Redshift wire emulator listening on {emulator.host}:{emulator.port}, "
            f"forwarding to {upstream.host}:{upstream.port}",
            flush=True,
        )
        done.wait()


if __name__ == "__main__":
    main()
