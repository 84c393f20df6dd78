"""The benchmark's figures as markdown: one table of runs, one of targets judged from the figures.

Every PASS or FAIL is computed here from the measured numbers of the same run; nothing is
written down in advance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.dagster_path import DagsterRun
from bench.peer import DLT_VERSION
from bench.scenario import Peer, Results, SyncRun, Timed
from bench.sling_peer import SLING_VERSION
from qupersync_dagster.devkit.cur_data import CUR_COLUMNS

RSS_LIMIT_MB = 300.0
SCALED_RSS_TOLERANCE = 0.20
NOOP_LIMIT_S = 2.0
RESTATE_FACTOR = 1.2
DLT_FACTOR = 3.0
SLING_FACTOR = 2.0
LIMIT_FACTOR = 0.85
DAGSTER_OVERHEAD_S = 3.0


@dataclass(frozen=True)
class Target:
    name: str
    goal: str
    measured: str
    passed: bool | None  # None: not measured (or, timings in a smoke run, not judged)
    timing: bool = False


def render(results: Results) -> str:
    options = results.options
    lines = ["# QuperSync benchmark", ""]
    if options.smoke:
        lines += [
            "**Smoke run**: a few rows to prove the pipeline works; timings mean nothing.",
            "",
        ]
    lines += ["## Machine", ""]
    lines += [f"- {name}: {value}" for name, value in results.machine.items()]
    lines += [f"- Load average at end (1, 5, 15 min): {results.load_at_end}", ""]
    lines += [
        "## Runs",
        "",
        f"Source: {results.source_rows:,} CUR 2.0 rows ({len(CUR_COLUMNS)} columns, costs in"
        f" DOUBLE PRECISION) over {options.days} days "
        f"from {options.start}, generated in {results.generate_seconds:.0f} s. Rows/s counts the "
        "rows each run moved over its wall time, connections included. Throughput runs went "
        f"{options.repeat} round(s) each; the fastest counts (all rounds listed), peak RSS is "
        "the highest of the rounds.",
        "",
        "| Run | Rows | Seconds | Rows/s | Peak RSS | × dlt | × Sling | × COPY limit "
        "| Rounds (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    lines += [_run_row(run, results) for run in _runs(results)]
    lines += _whole_process(results)
    lines += ["", "## Targets", "", "| Target | Goal | Measured | Result |", "|---|---|---|---|"]
    lines += [
        f"| {t.name} | {t.goal} | {t.measured} | "
        f"{'not judged (smoke)' if options.smoke and t.timing else _verdict(t.passed)} |"
        for t in targets(results)
    ]
    lines += ["", "## Notes", ""] + [f"- {note}" for note in _notes(results)]
    return "\n".join(lines) + "\n"


def targets(results: Results) -> list[Target]:
    initial, noop, scaled = results.initial, results.noop, results.scaled
    found: list[Target] = []
    rate, limit_rate = _rate(initial), _rate(results.limit)
    found.append(
        _ratio_target(
            "Initial sync vs Sling",
            f"≥ {SLING_FACTOR:g}× Sling's rows/s, Sling's start-up subtracted",
            rate,
            peer_rate(results, "sling"),
            SLING_FACTOR,
        )
    )
    found.append(
        _ratio_target(
            "Initial sync vs dlt",
            f"≥ {DLT_FACTOR:g}× dlt's rows/s",
            rate,
            peer_rate(results, "dlt"),
            DLT_FACTOR,
        )
    )
    found.append(
        _ratio_target(
            "Initial sync vs the COPY-pipe limit",
            f"≥ {LIMIT_FACTOR:g}× the limit's rows/s",
            rate,
            limit_rate,
            LIMIT_FACTOR,
        )
    )
    found += _dagster_targets(results)
    found.append(
        _measured(
            "Peak RSS of the sync process at N",
            f"≤ {RSS_LIMIT_MB:.0f} MB",
            initial,
            lambda r: (f"{r.peak_rss_mb:.0f} MB", r.peak_rss_mb <= RSS_LIMIT_MB),
        )
    )
    if initial and scaled:
        growth = scaled.peak_rss_mb / initial.peak_rss_mb - 1
        found.append(
            Target(
                f"Peak RSS at {results.options.scale}× N vs N",
                f"within {SCALED_RSS_TOLERANCE:.0%}",
                f"{scaled.peak_rss_mb:.0f} MB vs {initial.peak_rss_mb:.0f} MB ({growth:+.0%})",
                abs(growth) <= SCALED_RSS_TOLERANCE,
            )
        )
    else:
        found.append(Target("Peak RSS at k× N vs N", "within 20%", "not run", None))
    found.append(
        _measured(
            f"No-op re-sync of {results.options.days} unchanged days",
            f"≤ {NOOP_LIMIT_S:g} s in total",
            noop,
            lambda r: (f"{r.seconds:.2f} s", r.seconds <= NOOP_LIMIT_S),
            timing=True,
        )
    )
    day = results.restated_day
    if results.initial_rounds and results.resyncs and day:
        before = min(run.partition_seconds(day) for run in results.initial_rounds)
        after = min(run.partition_seconds(day) for run in results.resyncs)
        found.append(
            Target(
                f"Re-sync of one restated day ({day}), fastest of each",
                f"≤ {RESTATE_FACTOR:g}× that day's initial load",
                f"{after / before:.2f}× ({after:.2f} s vs {before:.2f} s)",
                after <= RESTATE_FACTOR * before,
                timing=True,
            )
        )
    if initial and noop:
        unchanged = sum(p["outcome"] == "unchanged" for p in noop.partitions)
        found.append(
            Target(
                f"{results.source_rows:,}-row, {results.options.days}-day CUR table: peak RSS "
                "under 300 MB and a second run skips every partition as unchanged",
                f"< {RSS_LIMIT_MB:.0f} MB; {len(noop.partitions)}/{len(noop.partitions)} unchanged",
                f"{initial.peak_rss_mb:.0f} MB; {unchanged}/{len(noop.partitions)} unchanged",
                initial.peak_rss_mb < RSS_LIMIT_MB and unchanged == len(noop.partitions),
            )
        )
    found.append(
        Target(
            "Every QuperSync sync leaves the target equal to the source",
            "same md5 over all rows and columns, expected partition outcomes",
            f"{results.syncs_checked} syncs checked, {len(results.problems)} problem(s)",
            not results.problems,
        )
    )
    return found


@dataclass(frozen=True)
class _Row:
    label: str
    rows: int
    seconds: float
    peak_rss_mb: float
    rounds: tuple[float, ...] = ()
    full_load: bool = True  # compared with dlt and the limit (same rows); the others are not


def _runs(results: Results) -> list[_Row]:
    options = results.options
    rows: list[_Row] = []

    def add(label: str, run: SyncRun | Timed | None, *, full_load: bool = True) -> None:
        if run is not None:
            rounds = run.rounds if isinstance(run, Timed) else ()
            rows.append(_Row(label, run.rows, run.seconds, run.peak_rss_mb, rounds, full_load))

    add(f"QuperSync initial sync, {options.days} days", results.initial)
    add(
        f"QuperSync no-op re-sync, {options.days} unchanged days",
        results.noop,
        full_load=False,
    )
    for changes, run in zip(results.restate_changes, results.resyncs, strict=True):
        add(
            f"QuperSync re-sync after restating {results.restated_day} ({_changes(changes)})",
            run,
            full_load=False,
        )
    add(f"QuperSync initial sync at {options.scale}× N", results.scaled, full_load=False)
    dagster = results.dagster
    if dagster is not None:
        rows.append(
            _Row(
                f"QuperSync via `dagster asset materialize`, {options.days} days in one run, "
                "whole process ³",
                dagster.rows,
                dagster.seconds,
                dagster.peak_rss_mb,
                results.dagster_rounds,
            )
        )
    if dlt := results.peers.get("dlt"):
        add(f"dlt {DLT_VERSION} (sql_table, pyarrow, merge) ¹", dlt.timed)
    if sling := results.peers.get("sling"):
        rows.append(
            _Row(
                f"Sling {SLING_VERSION} (backfill, merge on the key), whole process minus its "
                f"{sling.startup_seconds:.2f} s start-up ⁴",
                sling.timed.rows,
                sling.working_seconds,
                sling.timed.peak_rss_mb,
                sling.timed.rounds,
            )
        )
    add("COPY pipe limit (psql → psql, one transaction) ²", results.limit)
    return rows


def _run_row(run: _Row, results: Results) -> str:
    rate = _rate(run)
    references = [peer_rate(results, "dlt"), peer_rate(results, "sling"), _rate(results.limit)]
    ratios = [
        f"{rate / reference:.2f}×" if rate and reference and run.full_load else "—"
        for reference in references
    ]
    cells = [
        run.label,
        f"{run.rows:,}",
        f"{run.seconds:.2f}",
        f"{rate:,.0f}" if rate else "—",
        f"{run.peak_rss_mb:.0f} MB",
        *ratios,
        ", ".join(f"{s:.1f}" for s in run.rounds) or "—",
    ]
    return "| " + " | ".join(cells) + " |"


def _notes(results: Results) -> list[str]:
    notes = []
    if dlt := results.peers.get("dlt"):
        notes.append(
            "¹ dlt reads the PostgreSQL database behind the Redshift emulator directly (its "
            "SQLAlchemy Redshift dialect cannot talk to the emulator), which favours dlt: "
            "QuperSync goes through the real redshift-connector driver and the emulator. dlt "
            f"runs in its own virtualenv ({_install(dlt)}) with its default settings otherwise; "
            "its seconds are those of `pipeline.run` in a warm process (imports done). Its "
            f"target, compared value by value: {_exactness(dlt)}."
        )
    else:
        notes.append("¹ dlt was not run (--peers, --skip-peer or --smoke).")
    notes.append(
        "² Both psql processes counted together; no client code touches a row, so no sync "
        "through a client can beat it on these servers."
    )
    if dagster := results.dagster:
        notes.append(
            f"³ `python -m dagster asset materialize -m qupersync_dagster.definitions --select "
            f"cur_line_items --partition-range FIRST...LAST`, one run of the {results.options.days}"
            " days on a warm instance (QuperSync's dagster.yaml, storage in PostgreSQL on the same "
            "server, one run done beforehand), into a fresh target database, read through the "
            "emulator: wall time of the whole process, start-up, checks and metadata included. "
            f"Sync {dagster.sync_seconds:.2f} s of it: the asset's `sync_s` (its totals log "
            "line), the engine's span timed inside the asset as the initial sync is timed "
            "without Dagster, from opening the connections to the last day's commit (pre-flight, "
            "the range's fingerprints and stored states, every day's read and load, the days "
            "overlapping), less the moment Dagster takes to store the schema check's result; "
            "everything else in the process is Dagster's overhead, split above. Its target "
            "equals the source (md5), checked as for every QuperSync sync."
        )
    else:
        notes.append("³ The Dagster path was not run (--skip-dagster).")
    if sling := results.peers.get("sling"):
        notes.append(
            f"⁴ Sling {SLING_VERSION} (the `sling-linux-amd64` wheel, in its own virtualenv, "
            f"{_install(sling)}): one replication, `mode: backfill` with `range` over the days "
            "on the partition column (`update_key`) and `primary_key` the CUR key, default "
            "settings otherwise, into a table "
            "made beforehand with QuperSync's columns, primary key and indexes; Sling loads a "
            "temporary table and merges it on the key. Like dlt, it reads the PostgreSQL "
            "database behind the emulator directly, which favours Sling: its Redshift connector, "
            "without AWS credentials for UNLOAD to S3, falls back to a cursor that never "
            "finishes against the emulator. Its fixed start-up, "
            f"{sling.startup_seconds:.2f} s (fastest of the rounds), is a run of the same "
            "replication over the two days before the first (no rows: process start, both "
            "connections, the table's columns, its temporary table); its rows/s is rows over "
            f"(whole process − start-up), its whole process {sling.timed.seconds:.2f} s. Its "
            f"target, compared value by value: {_exactness(sling)}."
        )
    else:
        notes.append("⁴ Sling was not run (--peers, --skip-peer or --smoke).")
    notes.append(
        "Every run writes to the same private PostgreSQL server as the source and starts after "
        "a CHECKPOINT. The re-syncs run once the other contenders' tables are dropped and "
        "QuperSync's table is vacuumed, as autovacuum leaves it between daily runs."
    )
    notes.append(
        "Peak RSS is the kernel's high-water mark (VmHWM) of each contender's own process; "
        "database server processes are not counted for anyone."
    )
    notes.append(
        "The initial sync runs without Dagster imported: the figures are the engine's, exactly "
        "the call a single-run backfill makes (`SyncService(...).sync(spec, start, end)`), "
        "timed in a warm process from opening the connections to the last day committed, with "
        "QuperSync's default settings: the days dealt over 2 source connections "
        "(`REDSHIFT_READ_CONNECTIONS`), each day one target transaction."
    )
    notes.append(
        "A restated day's seconds, in both runs, are its own partition's wall time "
        "(`SyncResult.seconds`: from taking the day's lock to its commit). In the initial sync "
        "the day shared the machine with the day another connection was loading, and its read "
        "had started while the day before it committed; in the re-sync it is the only day read."
    )
    if results.problems:
        notes += [f"PROBLEM: {problem}" for problem in results.problems]
    return notes


def peer_rate(results: Results, name: str) -> float | None:
    """A peer's rows/s: Sling's over its whole process minus its fixed start-up."""
    peer = results.peers.get(name)
    if peer is None or not peer.timed.rows or peer.working_seconds <= 0:
        return None
    return peer.timed.rows / peer.working_seconds


def _whole_process(results: Results) -> list[str]:
    """The Dagster path against Sling as the user waits for them, and where Dagster's time goes."""
    dagster, sling = results.dagster, results.peers.get("sling")
    if dagster is None:
        return []
    lines = ["", "### Whole process, as the user waits", ""]
    lines += ["| Run | Seconds | × Sling's |", "|---|---:|---:|"]
    sling_s = sling.timed.seconds if sling else None
    lines.append(
        f"| QuperSync, `dagster asset materialize` (one run) | {dagster.seconds:.2f} | "
        + (f"{dagster.seconds / sling_s:.2f}× |" if sling_s else "— |")
    )
    if sling_s:
        lines.append(f"| Sling {SLING_VERSION} (`sling run`) | {sling_s:.2f} | 1.00× |")
    lines += ["", "Where the Dagster path's fastest round went (from its run's event log):", ""]
    lines += ["| Phase | Seconds | Share |", "|---|---:|---:|"]
    lines += [
        f"| {phase} | {seconds:.2f} | {seconds / dagster.seconds:.0%} |"
        for phase, seconds in dagster.phases.items()
    ]
    lines.append(
        f"| **everything but the sync** | **{dagster.overhead_seconds:.2f}** | "
        f"**{dagster.overhead_seconds / dagster.seconds:.0%}** |"
    )
    return lines


def _dagster_targets(results: Results) -> list[Target]:
    dagster, sling = results.dagster, results.peers.get("sling")
    days = results.options.days
    name = f"Dagster path, whole process, {results.source_rows:,} rows / {days} days"
    if dagster is None or sling is None:
        faster = Target(name, "faster than Sling's whole process", "not run", None, timing=True)
    else:
        faster = Target(
            name,
            "faster than Sling's whole process",
            f"{dagster.seconds:.2f} s vs {sling.timed.seconds:.2f} s "
            f"({dagster.seconds / sling.timed.seconds:.2f}×)",
            dagster.seconds < sling.timed.seconds,
            timing=True,
        )
    overhead = _measured(
        "Dagster overhead of that backfill beyond the sync itself",
        f"≤ {DAGSTER_OVERHEAD_S:g} s",
        dagster,
        lambda r: (
            f"{r.overhead_seconds:.2f} s ({r.seconds:.2f} s − sync {r.sync_seconds:.2f} s)",
            r.overhead_seconds <= DAGSTER_OVERHEAD_S,
        ),
        timing=True,
    )
    return [faster, overhead]


def _install(peer: Peer) -> str:
    seconds = peer.install_seconds
    return f"installed in {seconds:.0f} s" if seconds else "reused from an earlier run"


def _exactness(peer: Peer) -> str:
    if peer.exact:
        return "equal to the source"
    return (
        "NOT equal to the source (values differ in "
        + (", ".join(peer.differences) or "some rows")
        + ")"
    )


def _ratio_target(
    name: str, goal: str, rate: float | None, reference: float | None, factor: float
) -> Target:
    if rate is None or reference is None:
        return Target(name, goal, "not run", None, timing=True)
    return Target(name, goal, f"{rate / reference:.2f}×", rate >= factor * reference, timing=True)


def _measured(
    name: str,
    goal: str,
    run: SyncRun | Timed | DagsterRun | None,
    judge: Callable[[Any], tuple[str, bool]],
    *,
    timing: bool = False,
) -> Target:
    if run is None:
        return Target(name, goal, "not run", None, timing)
    measured, passed = judge(run)
    return Target(name, goal, measured, passed, timing)


def _rate(run: SyncRun | Timed | _Row | None) -> float | None:
    if run is None or not run.rows or run.seconds <= 0:
        return None
    return run.rows / run.seconds


def _changes(changes: dict[str, int]) -> str:
    return ", ".join(f"{count:,} {kind}" for kind, count in changes.items())


def _verdict(passed: bool | None) -> str:
    return {True: "PASS", False: "**FAIL**", None: "n/a"}[passed]
