"""The benchmark's verdicts: each ratio computed as the report says, each target judged from it.

Figures are made up here, so that each judgement can be pinned on both sides of its goal; the
benchmark's own runs (``python -m bench``) produce the real ones.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from bench import report
from bench.dagster_path import DagsterRun
from bench.scenario import Options, Peer, Results, Timed

ROWS = 1_000_000
DAYS = 30


def _results(
    *,
    engine_s: float = 10.0,
    sling_s: float = 20.0,
    sling_startup_s: float = 0.5,
    dlt_s: float = 40.0,
    limit_s: float = 10.0,
    dagster_s: float = 15.0,
    dagster_sync_s: float = 13.0,
    smoke: bool = False,
    sling_exact: bool = True,
) -> Results:
    options = Options(
        rows=ROWS,
        days=DAYS,
        start=date(2026, 8, 1),
        scale=1,
        repeat=1,
        peers=("dlt", "sling"),
        dagster=True,
        smoke=smoke,
        fetch_size=None,
        work_dir=Path("unused"),
    )
    results = Results(options, source_rows=ROWS)
    results.initial = _timed(engine_s)
    results.limit = _timed(limit_s)
    results.peers = {
        "dlt": Peer(_timed(dlt_s), True, [], 0.0),
        "sling": Peer(
            _timed(sling_s),
            sling_exact,
            [] if sling_exact else ["resource_tags"],
            0.0,
            sling_startup_s,
        ),
    }
    results.dagster = DagsterRun(
        rows=ROWS,
        seconds=dagster_s,
        peak_rss_mb=150.0,
        sync_seconds=dagster_sync_s,
        phases={"start-up": dagster_s - dagster_sync_s, "sync": dagster_sync_s},
        outcomes={},
    )
    results.dagster_rounds = (dagster_s,)
    return results


def _timed(seconds: float) -> Timed:
    return Timed(ROWS, seconds, 100.0, (seconds,))


def _verdict(results: Results, name: str) -> bool | None:
    [target] = [t for t in report.targets(results) if t.name.startswith(name)]
    return target.passed


def test_slings_rate_counts_its_rows_over_the_whole_process_minus_its_start_up():
    # 1,000,000 rows in 20.5 s, 1.0 s of it start-up: 51,282 rows/s, not 48,780.
    results = _results(engine_s=10.0, sling_s=20.5, sling_startup_s=1.0)

    assert report.peer_rate(results, "sling") == pytest.approx(ROWS / 19.5)
    # 100,000 rows/s is 1.95× that (2.05× with the start-up left in): short of 2×.
    assert _verdict(results, "Initial sync vs Sling") is False
    assert _verdict(replace(results, peers=_with_startup(results, 0.5)), "Initial sync vs Sling")


def _with_startup(results: Results, seconds: float) -> dict[str, Peer]:
    return results.peers | {"sling": replace(results.peers["sling"], startup_seconds=seconds)}


@pytest.mark.parametrize(
    ("name", "passing", "failing"),
    [
        ("Initial sync vs dlt", {"dlt_s": 30.0}, {"dlt_s": 29.9}),
        ("Initial sync vs the COPY-pipe limit", {"limit_s": 8.5}, {"limit_s": 8.4}),
    ],
)
def test_the_engine_is_judged_against_dlt_at_3x_and_the_copy_limit_at_0_85x(name, passing, failing):
    assert _verdict(_results(**passing), name) is True
    assert _verdict(_results(**failing), name) is False


def test_the_dagster_path_must_beat_slings_whole_process_start_up_included():
    # Sling's whole process is 20 s; its 0.5 s start-up is not taken off for this comparison.
    assert _verdict(_results(dagster_s=19.9, dagster_sync_s=17.0), "Dagster path, whole") is True
    assert _verdict(_results(dagster_s=20.0, dagster_sync_s=17.0), "Dagster path, whole") is False


def test_dagsters_overhead_is_the_whole_process_minus_the_sync_at_most_3_s():
    assert _verdict(_results(dagster_s=16.0, dagster_sync_s=13.0), "Dagster overhead") is True
    assert _verdict(_results(dagster_s=16.1, dagster_sync_s=13.0), "Dagster overhead") is False


def test_a_smoke_run_judges_no_timing_but_still_shows_the_figures():
    text = report.render(_results(smoke=True, dagster_s=40.0))

    overhead = next(line for line in text.splitlines() if "Dagster overhead" in line)
    assert "27.00 s (40.00 s − sync 13.00 s)" in overhead
    assert overhead.endswith("| not judged (smoke) |")


def test_the_runs_table_compares_every_full_load_with_dlt_sling_and_the_copy_limit():
    text = report.render(_results(engine_s=10.0, sling_s=20.5, sling_startup_s=0.5))
    rows = {line.split(" | ")[0]: line.split(" | ") for line in text.splitlines()}

    engine = rows["| QuperSync initial sync, 30 days"]
    assert engine[5:8] == ["4.00×", "2.00×", "1.00×"]  # dlt 40 s, Sling 20 s, limit 10 s
    [sling] = [cells for label, cells in rows.items() if "(backfill" in label]
    assert sling[2:4] == ["20.00", "50,000"]
    assert "minus its 0.50 s start-up" in sling[0]
    [dagster] = [cells for label, cells in rows.items() if "days in one run" in label]
    assert dagster[2:4] == ["15.00", "66,667"]
    assert dagster[6] == "1.33×"  # its rows/s over Sling's, start-up subtracted


def test_each_peers_copy_is_reported_equal_or_not_with_the_columns_that_differ():
    text = report.render(_results(sling_exact=False))
    notes = {line[2:4]: line for line in text.splitlines() if line.startswith("- ")}

    assert "Its target, compared value by value: equal to the source." in notes["¹ "]
    assert "NOT equal to the source (values differ in resource_tags)" in notes["⁴ "]
