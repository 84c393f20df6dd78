"""``python -m bench.click``: how long a Materialize click in the demo takes, click to done.

A user judges QuperSync in the demo by what one click on Materialize costs. This starts the demo
stack exactly as ``qupersync demo`` does (its PostgreSQL, generated tables, the Redshift wire
emulator, ``dagster dev`` with QuperSync's ``dagster.yaml``) in a fresh folder, then launches one
``cur_line_items`` partition at a time through the webserver's GraphQL API as the UI does, and
reports, per click, the seconds until the run worker started (queue), the run itself, and the
total. Two cases: (a) a day already synced and unchanged, (b) a new day of 30,000 line items.
Targets on two cores: (a) at most 6 s, (b) at most 8 s.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bench import click_report
from bench.click_graphql import RunTimes, click
from bench.machine import load_average
from bench.processes import REPO_ROOT
from qupersync_dagster.demo import stack
from qupersync_dagster.demo.data import (
    DEMO_TABLE,
    Databases,
    demo_table,
    demo_tables,
    seed,
    write_table_list,
)
from qupersync_dagster.demo.graphql import launch_target
from qupersync_dagster.demo.home import DemoHome
from qupersync_dagster.devkit import cur_data
from qupersync_dagster.devkit.embedded import LOOPBACK, ServerAddress, free_port

TARGETS_S = {"unchanged": 6.0, "new": 8.0}
WORK = REPO_ROOT / "bench" / ".work" / "click"


@contextlib.contextmanager
def demo_stack(
    home: DemoHome, rows_per_day: int, today: date
) -> Iterator[tuple[str, ServerAddress]]:
    """The demo's servers and ``dagster dev``, started as ``qupersync demo`` starts them."""
    with contextlib.ExitStack() as resources:
        postgres = resources.enter_context(stack.postgres(home))
        databases = Databases()
        seeded = [
            seed(postgres, spec, databases, today=today, rows_per_day=rows_per_day)
            for spec in demo_tables()
        ]
        write_table_list(home.table_list, demo_table(), seeded[0].first_day)
        emulator = resources.enter_context(stack.redshift_emulator(postgres))
        stack.install_dagster_home(home)
        env = stack.environment(home, postgres, emulator, databases)
        port = free_port(0)
        url = f"http://{LOOPBACK}:{port}"
        process = resources.enter_context(stack.dagster_dev(home, env, port))
        errors = stack.wait_for_ui(url, process, 300)
        if errors:
            raise RuntimeError(f"the code location failed to load: {errors}")
        yield url, postgres


def _new_day(postgres: ServerAddress, day: date, rows: int) -> None:
    """Make ``day`` of the CUR source hold exactly ``rows`` freshly generated line items."""
    spec = demo_table()
    with contextlib.closing(postgres.connect(Databases().source)) as conn:
        with conn, conn.cursor() as cur:
            cur.execute(
                f'DELETE FROM "{spec.source.schema}"."{spec.source.name}"'
                f' WHERE "{spec.partition_column}" >= %s AND "{spec.partition_column}" < %s',
                (day, day + timedelta(days=1)),
            )
        cur_data.generate(
            conn, spec.source.schema, spec.source.name, start=day, days=1, rows=rows, seed=99
        )


def _target_rows(postgres: ServerAddress, day: date) -> int:
    spec = demo_table()
    with contextlib.closing(postgres.connect(Databases().target)) as conn, conn.cursor() as cur:
        cur.execute(
            f'SELECT count(*) FROM "{spec.target.schema}"."{spec.target.name}"'
            f' WHERE "{spec.partition_column}" >= %s AND "{spec.partition_column}" < %s',
            (day, day + timedelta(days=1)),
        )
        return cur.fetchone()[0]


def _checked(times: RunTimes, what: str) -> RunTimes:
    if times.status != "SUCCESS":
        raise RuntimeError(f"the run for {what} ended {times.status}")
    print(
        f"  {what}: dequeued {times.dequeued:.2f} s, queue {times.queue:.2f} s, "
        f"run {times.run:.2f} s, total {times.ended:.2f} s",
        file=sys.stderr,
    )
    return times


def measure(rounds: int, rows: int, rows_per_day: int) -> dict:
    today = datetime.now(UTC).date()
    shutil.rmtree(WORK, ignore_errors=True)
    home = DemoHome(WORK)
    home.root.mkdir(parents=True)
    with demo_stack(home, rows_per_day, today) as (url, postgres):
        target = launch_target(url, DEMO_TABLE)
        synced = today - timedelta(days=1)
        _checked(click(url, target, synced.isoformat()), f"warm-up, first sync of {synced}")
        results: dict[str, list[RunTimes]] = {"unchanged": [], "new": []}
        for n in range(rounds):
            results["unchanged"].append(
                _checked(click(url, target, synced.isoformat()), "unchanged day")
            )
            fresh = today - timedelta(days=30 + n)  # never synced in this fresh demo
            _new_day(postgres, fresh, rows)
            results["new"].append(
                _checked(click(url, target, fresh.isoformat()), f"new day {fresh}")
            )
            if _target_rows(postgres, fresh) != rows:
                raise RuntimeError(f"{fresh} was not synced: {_target_rows(postgres, fresh)} rows")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.click", description="Time a Materialize click in the demo."
    )
    parser.add_argument("--rounds", type=int, default=3, help="clicks per case (default 3)")
    parser.add_argument("--rows", type=int, default=30_000, help="rows of the new day (30,000)")
    parser.add_argument("--rows-per-day", type=int, default=1_500, help="history (demo: 1,500)")
    parser.add_argument("--label", default="", help="what this run measures, e.g. 'before'")
    parser.add_argument("--output", type=Path, help="write the section into this Markdown file")
    args = parser.parse_args(argv)
    load_before = load_average()
    results = measure(args.rounds, args.rows, args.rows_per_day)
    summary = {
        case: {
            "median_total": statistics.median(t.ended for t in runs),
            "runs": runs,
            "target": TARGETS_S[case],
        }
        for case, runs in results.items()
    }
    text = click_report.section(summary, args.rows, args.label, load_before, load_average())
    print(text)
    if args.output:
        click_report.write(args.output, args.label, text)
    return 0 if all(s["median_total"] <= s["target"] for s in summary.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
