"""``python -m bench``: run the benchmark, print the report and write it to BENCHMARKS.md.

Exits non-zero when any QuperSync sync left the target different from the source (or with
unexpected partition outcomes); missed performance targets are reported, not fatal.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from bench import click_report, report, scenario, sections, unload
from bench.processes import REPO_ROOT

SMOKE_ROWS = 20_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="QuperSync throughput and memory against dlt, Sling and the COPY limit.",
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="CUR rows (default 1,000,000)")
    parser.add_argument("--days", type=int, default=30, help="days the rows span (default 30)")
    parser.add_argument(
        "--start", type=date.fromisoformat, default=date(2026, 8, 1), help="first day"
    )
    parser.add_argument(
        "--scale",
        type=int,
        default=3,
        help="the memory run syncs SCALE × rows (default 3; 1 skips it)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=2,
        help="throughput rounds; each contender's fastest counts (default 2; smoke: 1)",
    )
    parser.add_argument(
        "--peers",
        type=_peers,
        help=f"comma-separated peers to run, of {','.join(scenario.PEERS)} (default: all; "
        "smoke: none); an empty value runs none",
    )
    parser.add_argument("--skip-peer", action="store_true", help="run no peer (--peers '')")
    parser.add_argument("--skip-dagster", action="store_true", help="do not run the Dagster path")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"CI mode: {SMOKE_ROWS:,} rows, no peers, no BENCHMARKS.md; fails only on wrong data",
    )
    parser.add_argument("--fetch-size", type=int, help="rows per FETCH (default: QuperSync's)")
    parser.add_argument(
        "--output",
        type=Path,
        help="where to write the report (default BENCHMARKS.md; none in smoke mode)",
    )
    parser.add_argument(
        "--work-dir", type=Path, default=REPO_ROOT / "bench" / ".work", help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    peers = args.peers if args.peers is not None else () if args.smoke else scenario.PEERS
    if args.skip_peer:
        peers = ()
    if args.smoke:
        args.rows = min(args.rows, SMOKE_ROWS)
        args.repeat = 1
    options = scenario.Options(
        rows=args.rows,
        days=args.days,
        start=args.start,
        scale=args.scale,
        repeat=max(1, args.repeat),
        peers=peers,
        dagster=not args.skip_dagster,
        smoke=args.smoke,
        fetch_size=args.fetch_size,
        work_dir=args.work_dir.resolve(),
    )
    results = scenario.run(options)
    text = report.render(results)
    print(text)
    output = args.output or (None if args.smoke else REPO_ROOT / "BENCHMARKS.md")
    if output is not None:
        # The click and UNLOAD benchmarks' figures (python -m bench.click, bench.unload) stay.
        old = output.read_text() if output.exists() else ""
        markers = [(click_report.START, click_report.END), (unload.START, unload.END)]
        output.write_text(sections.carry_over(text, old, markers))
        print(f"written to {output}", file=sys.stderr)
    return 1 if results.problems else 0


def _peers(text: str) -> tuple[str, ...]:
    named = {name.strip() for name in text.split(",") if name.strip()}
    unknown = named - set(scenario.PEERS)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown peer(s): {', '.join(sorted(unknown))}")
    return tuple(name for name in scenario.PEERS if name in named)


if __name__ == "__main__":
    sys.exit(main())
