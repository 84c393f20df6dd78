"""``python -m qupersync_dagster.devkit.redshift_emulator``: the emulator in its own process."""

from __future__ import annotations

import argparse
import signal
import threading

from qupersync_dagster.devkit.embedded import ServerAddress
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
    args = parser.parse_args(argv)

    done = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: done.set())
    upstream = ServerAddress(host=args.upstream_host, port=args.upstream_port, user="")
    with RedshiftWireEmulator(
        upstream,
        listen_host=args.listen_host,
        listen_port=args.port,
        strict=args.strict,
        single_node=not args.multi_node,
        cursor_bytes_cap=args.cursor_bytes_cap,
    ) as emulator:
        print(
            f"Redshift wire emulator listening on {emulator.host}:{emulator.port}, "
            f"forwarding to {upstream.host}:{upstream.port}",
            flush=True,
        )
        done.wait()


if __name__ == "__main__":
    main()
