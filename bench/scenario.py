"""The benchmark, phase by phase, on one private server.

1. Generate the CUR source (N rows over D days) behind the Redshift wire emulator.
2. Throughput, ``repeat`` rounds; each round runs QuperSync's initial sync of the D days into a
   fresh target database, then the COPY-pipe limit and the peers (dlt, Sling) into that
   database, then the Dagster path (the D days as one ``dagster asset materialize`` run) into a
   fresh database of its own. Each contender's fastest round counts, so a burst of load from
   elsewhere on the machine penalises no one; peak memory is the highest of the rounds.
3. A no-op re-sync of the last round's target (nothing changed at the source), once the other
   contenders' tables are dropped and QuperSync's is vacuumed, as between two daily runs.
4. ``repeat`` times: restate the last day at the source and re-sync the D days. The restated
   day's fastest re-sync is compared with its fastest initial load.
5. QuperSync's initial sync again at ``scale`` × N rows, to show that memory stays flat.

After every sync the target's digest must equal the source's and every QuperSync partition must
have the expected outcome, on the Dagster path too; any difference is recorded as a problem and
fails the run (a peer's differences are reported, not fatal). Each timed run starts from a fresh
checkpoint, so no contender pays for another's dirty buffers.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from psycopg2 import sql

from bench import (
    checksum,
    copy_limit,
    cur_source,
    dagster_path,
    machine,
    peer,
    processes,
    sling_peer,
)
from bench.checksum import Digest, Table
from bench.dagster_path import DagsterRun
from bench.qupersync_child import PRIMARY_KEY, TARGET
from bench.servers import Servers, running_servers

SOURCE_DB = "bench_source"
SCALED_SOURCE_DB = "bench_source_scaled"
SCALED_TARGET_DB = "bench_target_scaled"
LIMIT_SCHEMA = "copy_limit"
PEER_DATASET = "dlt_cur"
SLING_SCHEMA = "sling_cur"
DAGSTER_TARGET_DB = "bench_dagster_target"
PEERS = ("dlt", "sling")


@dataclass(frozen=True)
class Options:
    rows: int
    days: int
    start: date
    scale: int  # the memory run syncs scale × rows; below 2: no memory run
    repeat: int  # throughput rounds; each contender's fastest counts
    peers: tuple[str, ...]  # of PEERS, in that order
    dagster: bool  # run the Dagster path
    smoke: bool
    fetch_size: int | None
    work_dir: Path


@dataclass(frozen=True)
class SyncRun:
    rows: int
    seconds: float
    peak_rss_mb: float
    partitions: list[dict]

    def outcomes(self) -> dict[str, str]:
        return {p["day"]: p["outcome"] for p in self.partitions}

    def partition_seconds(self, day: date) -> float:
        return next(p["seconds"] for p in self.partitions if p["day"] == day.isoformat())


@dataclass(frozen=True)
class Timed:
    """A contender's throughput over the rounds: its fastest round and its highest peak RSS."""

    rows: int
    seconds: float
    peak_rss_mb: float
    rounds: tuple[float, ...]  # seconds of every round

    @classmethod
    def of(cls, runs: list) -> Timed:
        fastest = min(runs, key=lambda r: r.seconds)
        return cls(
            fastest.rows,
            fastest.seconds,
            max(r.peak_rss_mb for r in runs),
            tuple(r.seconds for r in runs),
        )


@dataclass
class Peer:
    """A peer's throughput, and how exact its copy was."""

    timed: Timed
    exact: bool
    differences: list[str]  # columns whose values differ from the source's
    install_seconds: float  # 0: reused from an earlier run
    startup_seconds: float = 0.0  # fixed cost of its process, fastest of the rounds (Sling)

    @property
    def working_seconds(self) -> float:
        """Its seconds with the fixed start-up subtracted."""
        return self.timed.seconds - self.startup_seconds


@dataclass
class Results:
    options: Options
    machine: dict[str, str] = field(default_factory=dict)
    generate_seconds: float = 0.0
    source_rows: int = 0
    initial: Timed | None = None
    limit: Timed | None = None
    peers: dict[str, Peer] = field(default_factory=dict)  # name (of PEERS) -> figures
    dagster: DagsterRun | None = None  # the fastest round of the Dagster path
    dagster_rounds: tuple[float, ...] = ()
    initial_rounds: list[SyncRun] = field(default_factory=list)
    noop: SyncRun | None = None
    restated_day: date | None = None
    restate_changes: list[dict[str, int]] = field(default_factory=list)
    resyncs: list[SyncRun] = field(default_factory=list)  # one per restatement
    scaled: SyncRun | None = None
    syncs_checked: int = 0
    load_at_end: str = ""
    problems: list[str] = field(default_factory=list)


def run(options: Options) -> Results:
    logs = options.work_dir / "logs"
    shutil.rmtree(logs, ignore_errors=True)  # the children's stderr, this run's only
    logs.mkdir(parents=True)
    with running_servers(options.work_dir, logs) as servers:
        benchmark = _Benchmark(options, servers, logs)
        benchmark.run()
        return benchmark.results


class _Benchmark:
    def __init__(self, options: Options, servers: Servers, logs: Path):
        self.options = options
        self.servers = servers
        self.server = servers.postgres
        self.logs = logs
        self.results = Results(options)
        self.days = [options.start + timedelta(days=i) for i in range(options.days)]
        self.source = Table(SOURCE_DB, cur_source.SCHEMA, cur_source.TABLE)
        self.columns: list[tuple[str, str]] = []

    def run(self) -> None:
        options, results = self.options, self.results
        results.machine = machine.describe(self.server)
        _say(f"generating {options.rows:,} CUR rows over {options.days} days")
        results.generate_seconds = cur_source.create(
            self.server, SOURCE_DB, start=options.start, days=options.days, rows=options.rows
        )
        self.columns = checksum.source_columns(self.server, self.source)
        source_digest = self._digest(self.source)
        results.source_rows = source_digest.rows
        target_db = self._throughput(source_digest)
        target = Table(target_db, TARGET.schema, TARGET.name)
        self._settle(target)

        _say("QuperSync: no-op re-sync")
        results.noop = self._sync(SOURCE_DB, target_db)
        self._verify("no-op re-sync", results.noop, dict.fromkeys(self.days, "unchanged"))
        self._verify_copy("no-op re-sync", target, source_digest)

        day = results.restated_day = self.days[-1]
        expected = {d: "synced" if d == day else "unchanged" for d in self.days}
        for round_ in range(1, options.repeat + 1):
            _say(f"round {round_}: restating {day} at the source, then re-syncing")
            changes = cur_source.restate(self.server, SOURCE_DB, day, seed=6 + round_)
            results.restate_changes.append(changes)
            restated_digest = self._digest(self.source)
            results.resyncs.append(self._sync(SOURCE_DB, target_db))
            self._verify("re-sync of the restated day", results.resyncs[-1], expected)
            self._verify_copy("re-sync of the restated day", target, restated_digest)

        if options.scale >= 2:
            self.server.drop_database(target_db)  # its disk space is needed no more
            self.server.drop_database(SOURCE_DB)
            self._scaled()
        results.load_at_end = machine.load_average()

    def _throughput(self, source_digest: Digest) -> str:
        """Every contender's rounds; returns the target database of the last QuperSync round."""
        options, results = self.options, self.results
        peers = _Peers(self, source_digest)
        instance = self._dagster_instance() if options.dagster else None
        initial, limit, dagster_runs = [], [], []
        target_db = ""
        for round_ in range(1, options.repeat + 1):
            if target_db:
                self.server.drop_database(target_db)
            target_db = f"bench_target_{round_}"
            self.server.create_database(target_db, replace=True)
            target = Table(target_db, TARGET.schema, TARGET.name)

            _say(f"round {round_}: QuperSync initial sync")
            initial.append(self._sync(SOURCE_DB, target_db))
            self._verify("initial sync", initial[-1], dict.fromkeys(self.days, "synced"))
            self._verify_copy("initial sync", target, source_digest)

            _say(f"round {round_}: COPY pipe limit")
            limit_table = Table(target_db, LIMIT_SCHEMA, TARGET.name)
            copy_limit.prepare_target(self.server, target, limit_table)
            self._checkpoint()
            names = [name for name, _ in self.columns]
            limit.append(copy_limit.pipe(self.server, self.source, limit_table, names))
            self._verify_copy("COPY pipe", limit_table, source_digest)

            peers.run_round(round_, target)
            if instance is not None:
                dagster_runs.append(self._dagster_round(round_, instance, source_digest))
        results.initial = Timed.of(initial)
        results.limit = Timed.of(limit)
        results.peers = peers.figures()
        if dagster_runs:
            results.dagster = min(dagster_runs, key=lambda r: r.seconds)
            results.dagster_rounds = tuple(r.seconds for r in dagster_runs)
        results.initial_rounds = initial
        return target_db

    def _dagster_instance(self) -> dagster_path.Instance:
        options = self.options
        _say("Dagster path: preparing a warm instance (one run of one day)")
        instance = dagster_path.prepare(
            options.work_dir,
            self.server,
            emulator=(self.servers.emulator_host, self.servers.emulator_port),
            source_db=SOURCE_DB,
            start=options.start,
            fetch_size=options.fetch_size,
        )
        dagster_path.warm_up(instance, self.server, day=options.start, log_path=self._dagster_log)
        return instance

    def _dagster_round(
        self, round_: int, instance: dagster_path.Instance, source_digest: Digest
    ) -> DagsterRun:
        _say(f"round {round_}: Dagster path (dagster asset materialize, one run)")
        self.server.create_database(DAGSTER_TARGET_DB, replace=True)
        self._checkpoint()
        run = dagster_path.materialize(
            instance,
            target_db=DAGSTER_TARGET_DB,
            first=self.days[0],
            last=self.days[-1],
            log_path=self._dagster_log,
        )
        _say(
            f"  {run.rows:,} rows in {run.seconds:.2f} s (sync {run.sync_seconds:.2f} s), "
            f"peak RSS {run.peak_rss_mb:.0f} MB"
        )
        self.results.syncs_checked += 1
        expected = {day.isoformat(): "synced" for day in self.days}
        if run.outcomes != expected:
            self.results.problems.append(
                f"Dagster path: {len(run.outcomes)} days materialised, outcomes "
                f"{sorted(set(run.outcomes.values()))}, expected {len(expected)} days synced"
            )
        target = Table(DAGSTER_TARGET_DB, TARGET.schema, TARGET.name)
        self._verify_copy("Dagster path", target, source_digest)
        self.server.drop_database(DAGSTER_TARGET_DB)
        return run

    @property
    def _dagster_log(self) -> Path:
        return self.logs / "dagster.log"

    def _settle(self, target: Table) -> None:
        """Leave the target as autovacuum leaves it between daily runs: the other contenders'
        tables gone, QuperSync's table vacuumed and analysed after its bulk load."""
        with contextlib.closing(self.server.connect(target.database)) as conn:
            conn.autocommit = True
            with conn.cursor() as cursor:
                for schema in (
                    LIMIT_SCHEMA,
                    PEER_DATASET,
                    f"{PEER_DATASET}_staging",
                    SLING_SCHEMA,
                ):
                    cursor.execute(
                        sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
                    )
                cursor.execute(sql.SQL("VACUUM (ANALYZE) {}").format(target.qualified))

    def _scaled(self) -> None:
        options = self.options
        rows = options.rows * options.scale
        _say(f"generating {rows:,} CUR rows ({options.scale}× N) for the memory run")
        cur_source.create(
            self.server, SCALED_SOURCE_DB, start=options.start, days=options.days, rows=rows
        )
        self.server.create_database(SCALED_TARGET_DB, replace=True)
        source = Table(SCALED_SOURCE_DB, cur_source.SCHEMA, cur_source.TABLE)
        source_digest = self._digest(source)
        _say(f"QuperSync: initial sync at {options.scale}× N")
        self.results.scaled = self._sync(SCALED_SOURCE_DB, SCALED_TARGET_DB)
        what = f"initial sync at {options.scale}× N"
        self._verify(what, self.results.scaled, dict.fromkeys(self.days, "synced"))
        target = Table(SCALED_TARGET_DB, TARGET.schema, TARGET.name)
        self._verify_copy(what, target, source_digest)

    def _sync(self, source_db: str, target_db: str) -> SyncRun:
        server, servers = self.server, self.servers
        self._checkpoint()
        command = [
            sys.executable,
            "-m",
            "bench.qupersync_child",
            f"--emulator-host={servers.emulator_host}",
            f"--emulator-port={servers.emulator_port}",
            f"--source-db={source_db}",
            f"--pg-host={server.host}",
            f"--pg-port={server.port}",
            f"--pg-user={server.user}",
            f"--target-db={target_db}",
            f"--start={self.options.start.isoformat()}",
            f"--days={self.options.days}",
        ]
        if self.options.fetch_size:
            command.append(f"--fetch-size={self.options.fetch_size}")
        report = processes.run_json(command, self.logs / "qupersync.log")
        run = SyncRun(
            report["rows"], report["seconds"], report["peak_rss_mb"], report["partitions"]
        )
        _say(f"  {run.rows:,} rows in {run.seconds:.2f} s, peak RSS {run.peak_rss_mb:.0f} MB")
        return run

    def _verify(self, what: str, run: SyncRun, expected: dict[date, str]) -> None:
        self.results.syncs_checked += 1
        wanted = {day.isoformat(): outcome for day, outcome in expected.items()}
        got = run.outcomes()
        if got != wanted:
            wrong = sorted(d for d in wanted.keys() | got.keys() if got.get(d) != wanted.get(d))
            self.results.problems.append(
                f"{what}: unexpected partition outcomes on {', '.join(wrong[:5])}"
                f"{' …' if len(wrong) > 5 else ''}"
            )

    def _verify_copy(self, what: str, target: Table, expected: Digest) -> None:
        found = self._digest(target)
        if found != expected:
            self.results.problems.append(
                f"{what}: target differs from source ({found.rows:,} rows, md5 {found.md5} "
                f"vs {expected.rows:,} rows, md5 {expected.md5})"
            )

    def _digest(self, table: Table, *, lenient: bool = False) -> Digest:
        return checksum.digest(self.server, table, self.columns, PRIMARY_KEY, lenient=lenient)

    def _checkpoint(self) -> None:
        with contextlib.closing(self.server.connect("postgres")) as conn:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute("CHECKPOINT")


class _Peers:
    """The peers of ``Options.peers``: installed once, run each round into the round's target."""

    def __init__(self, benchmark: _Benchmark, source_digest: Digest):
        self.benchmark = benchmark
        self.source_digest = source_digest
        options, logs = benchmark.options, benchmark.logs
        self.dlt_python: Path | None = None
        self.sling_binary: Path | None = None
        self.install: dict[str, float] = {}
        self.runs: dict[str, list] = {name: [] for name in options.peers}
        self.exact: dict[str, list[bool]] = {name: [] for name in options.peers}
        self.differences: dict[str, list[str]] = {name: [] for name in options.peers}
        self.startups: list[float] = []
        if "dlt" in options.peers:
            _say(f"dlt {peer.DLT_VERSION}: preparing its virtualenv")
            self.dlt_python, self.install["dlt"] = peer.ensure_venv(
                options.work_dir, logs / "dlt.log"
            )
        if "sling" in options.peers:
            _say(f"Sling {sling_peer.SLING_VERSION}: preparing its virtualenv")
            self.sling_binary, self.install["sling"] = sling_peer.ensure_binary(
                options.work_dir, logs / "sling.log"
            )

    def run_round(self, round_: int, target: Table) -> None:
        bench, options = self.benchmark, self.benchmark.options
        if self.dlt_python is not None:
            _say(f"round {round_}: dlt {peer.DLT_VERSION}")
            bench._checkpoint()
            self.runs["dlt"].append(
                peer.run(
                    self.dlt_python,
                    bench.server,
                    source_db=SOURCE_DB,
                    source_schema=cur_source.SCHEMA,
                    table=cur_source.TABLE,
                    target_db=target.database,
                    dataset=PEER_DATASET,
                    primary_key=PRIMARY_KEY,
                    work_dir=options.work_dir,
                    log_path=bench.logs / "dlt.log",
                )
            )
            self._check("dlt", Table(target.database, PEER_DATASET, cur_source.TABLE))
        if self.sling_binary is not None:
            _say(f"round {round_}: Sling {sling_peer.SLING_VERSION}")
            sling_table = Table(target.database, SLING_SCHEMA, TARGET.name)
            copy_limit.prepare_target(bench.server, target, sling_table)
            replication = sling_peer.Replication(
                bench.source, sling_table, cur_source.PARTITION_COLUMN, PRIMARY_KEY
            )
            paths = {"work_dir": options.work_dir, "log_path": bench.logs / "sling.log"}
            first, end = bench.days[0], bench.days[-1] + timedelta(days=1)
            bench._checkpoint()
            startup = sling_peer.startup(
                self.sling_binary, bench.server, replication, first=first, **paths
            )
            if startup.rows:
                raise RuntimeError("Sling's start-up run over no days moved rows")
            self.startups.append(startup.seconds)
            bench._checkpoint()
            run = sling_peer.run(
                self.sling_binary, bench.server, replication, first=first, end=end, **paths
            )
            _say(
                f"  {run.rows:,} rows in {run.seconds:.2f} s (start-up {startup.seconds:.2f} s), "
                f"peak RSS {run.peak_rss_mb:.0f} MB"
            )
            self.runs["sling"].append(run)
            self._check("sling", sling_table)

    def _check(self, name: str, table: Table) -> None:
        bench = self.benchmark
        exact = bench._digest(table, lenient=True) == self.source_digest
        if not exact and not self.differences[name]:
            self.differences[name] = checksum.differing_columns(
                bench.server, bench.source, table, bench.columns, lenient=True
            )
        self.exact[name].append(exact)

    def figures(self) -> dict[str, Peer]:
        return {
            name: Peer(
                Timed.of(runs),
                all(self.exact[name]),
                self.differences[name],
                self.install.get(name, 0.0),
                min(self.startups) if name == "sling" else 0.0,
            )
            for name, runs in self.runs.items()
            if runs
        }


def _say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
