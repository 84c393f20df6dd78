"""The demo's databases and its cost-usage data.

Three months of history plus the current, still-open month show every case the sync handles:
closed and blank invoice ids, Tax, Credit, Refund and fee lines, and enough daily partitions to
backfill. The data is generated once and kept; a later start only appends the days that passed
since (as AWS keeps delivering), so what the user already synced stays valid.

The demo fills every table of the shipped example: CUR 2.0 line items and a FOCUS 1.2 export
(replace mode) and Cost Optimization Hub recommendations (upsert with a watermark), each from its
own generator in the dev kit; a re-delivery (``restate``) churns any of them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import yaml
from psycopg2 import sql
from psycopg2.extensions import connection

from qupersync_dagster.devkit import coh_data, cur_data, focus_data
from qupersync_dagster.devkit.embedded import ServerAddress
from qupersync_dagster.domain.entities import TableSpec
from qupersync_dagster.infrastructure.table_list import default_path, load_table_list

DEMO_TABLE = "cur_line_items"
HISTORY_MONTHS = 3


@dataclass(frozen=True)
class Generator:
    """How the demo makes and re-delivers one table of the example table list."""

    create: Callable[[connection, str, str], None]
    # (conn, schema, table, start, days, rows, open month) -> rows inserted
    generate: Callable[[connection, str, str, date, int, int, date], int]
    restate: Callable[[connection, str, str, date], dict[str, int]]
    rows_per_day: Callable[[int], int]  # from the line items per day the user asked for
    # What a re-delivery did, per count: format strings with {n}.
    removed: str
    changed: str
    added: str


GENERATORS = {
    "cur_line_items": Generator(
        cur_data.create_source_table,
        # One transaction: a Ctrl-C in the middle leaves no half-generated history.
        lambda conn, schema, table, start, days, rows, open_month: cur_data.generate(
            conn, schema, table, start=start, days=days, rows=rows,
            open_month_from=open_month, workers=1,
        ),
        cur_data.restate_day,
        lambda rows: rows,
        "removed {n} line items",
        "changed the costs of {n} line items",
        "added {n} late credits",
    ),
    "focus_costs": Generator(
        focus_data.create_source_table,
        lambda conn, schema, table, start, days, rows, open_month: focus_data.generate(
            conn, schema, table, start=start, days=days, rows=rows, open_month_from=open_month
        ),
        focus_data.restate_day,
        lambda rows: rows,
        "removed {n} charges",
        "changed the costs of {n} charges",
        "added {n} late credits",
    ),
    "coh_recommendations": Generator(
        coh_data.create_source_table,
        lambda conn, schema, table, start, days, rows, open_month: coh_data.generate(
            conn, schema, table, start=start, days=days, rows=rows
        ),
        coh_data.restate_day,
        # A few dozen new recommendations a day for 1,500 line items.
        lambda rows: max(1, rows // 50),
        "removed {n} recommendations (implemented)",
        "refreshed {n} recommendations (new estimates and last_refresh_timestamp)",
        "added {n} new recommendations",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Databases:
    """The demo's three databases, all on its one PostgreSQL server."""

    source: str = "demo_redshift"  # the emulated Redshift
    target: str = "demo_postgres"  # where QuperSync mirrors to
    dagster: str = "dagster"  # Dagster's runs, events and schedules


def demo_table() -> TableSpec:
    """The CUR table of the example table list shipped with QuperSync (its start date aside)."""
    return load_table_list(default_path()).table(DEMO_TABLE)


def demo_tables() -> list[TableSpec]:
    """Every table of the example table list, in its order; each has a generator."""
    return load_table_list(default_path()).tables


def generator(spec: TableSpec) -> Generator:
    try:
        return GENERATORS[spec.name]
    except KeyError:
        raise ValueError(f"the demo has no data for table {spec.name!r}") from None


def history_start(today: date) -> date:
    """The first day of the month ``HISTORY_MONTHS`` before the month of ``today``."""
    months = today.year * 12 + today.month - 1 - HISTORY_MONTHS
    return date(months // 12, months % 12 + 1, 1)


@dataclass(frozen=True)
class SeedResult:
    first_day: date
    last_day: date
    days_added: int
    rows_added: int
    rows_total: int


def seed(
    server: ServerAddress,
    spec: TableSpec,
    databases: Databases,
    *,
    today: date,
    rows_per_day: int,
) -> SeedResult:
    """Create the demo's databases if missing, and fill the source up to ``today`` inclusive."""
    made = generator(spec)
    for database in (databases.source, databases.target, databases.dagster):
        server.create_database(database)
    with _connect(server, databases.source) as conn:
        if not _table_exists(conn, spec):
            made.create(conn, spec.source.schema, spec.source.name)
        _, last = _day_range(conn, spec)
        start = history_start(today) if last is None else last + timedelta(days=1)
        days = (today - start).days + 1
        added = 0
        if days > 0:
            rows = days * made.rows_per_day(rows_per_day)
            schema, table = spec.source.schema, spec.source.name
            added = made.generate(conn, schema, table, start, days, rows, today.replace(day=1))
        first, last = _day_range(conn, spec)
        (total,) = _fetchone(conn, sql.SQL("SELECT count(*) FROM {}").format(_source(spec)))
    if first is None or last is None:
        raise ValueError(f"no rows in {spec.source}: rows_per_day must be at least 1")
    return SeedResult(first, last, max(days, 0), added, total)


def write_table_list(path: Path, spec: TableSpec, first_day: date) -> None:
    """The shipped table list, its tables starting on ``first_day``: the first generated day."""
    document = yaml.safe_load(default_path().read_text())
    for entry in document["tables"]:
        entry["start_date"] = first_day.isoformat()
    header = (
        "# Written by `qupersync demo` from the example table list; start_date is the first day\n"
        f"# of the demo's generated data in {spec.source}.\n"
    )
    path.write_text(header + yaml.safe_dump(document, sort_keys=False))


@dataclass(frozen=True)
class DayTotals:
    rows: int
    cost: Decimal  # the sum of the table's measure column, each value cast to numeric


@dataclass(frozen=True)
class Restatement:
    day: date
    removed: int
    changed: int
    added: int
    before: DayTotals
    after: DayTotals


def restate(server: ServerAddress, spec: TableSpec, database: str, day: date) -> Restatement:
    """Re-deliver ``day`` of the source table in ``database`` as AWS does when it restates it."""
    with _connect(server, database) as conn:
        first, last = _day_range(conn, spec)
        if first is None or last is None or not first <= day <= last:
            raise ValueError(f"{day} is outside the demo's data ({first} to {last})")
        before = day_totals(conn, spec, day)
        counts = generator(spec).restate(conn, spec.source.schema, spec.source.name, day)
        after = day_totals(conn, spec, day)
    return Restatement(day, counts["removed"], counts["changed"], counts["added"], before, after)


def day_totals(conn: connection, spec: TableSpec, day: date) -> DayTotals:
    query = sql.SQL(
        "SELECT count(*), coalesce(sum(CAST({measure} AS numeric)), 0) FROM {table}"
        " WHERE {column} >= %(day)s AND {column} < %(day)s + 1"
    ).format(
        measure=sql.Identifier(spec.measure_column or spec.partition_column),
        table=_source(spec),
        column=sql.Identifier(spec.partition_column),
    )
    rows, cost = _fetchone(conn, query, {"day": day})
    return DayTotals(rows, cost)


@contextlib.contextmanager
def _connect(server: ServerAddress, database: str) -> Iterator[connection]:
    with contextlib.closing(server.connect(database)) as conn:
        yield conn


def _source(spec: TableSpec) -> sql.Composed:
    return sql.SQL("{}.{}").format(
        sql.Identifier(spec.source.schema), sql.Identifier(spec.source.name)
    )


def _table_exists(conn: connection, spec: TableSpec) -> bool:
    query = sql.SQL(
        "SELECT EXISTS (SELECT FROM information_schema.tables"
        " WHERE table_schema = %s AND table_name = %s)"
    )
    return _fetchone(conn, query, (spec.source.schema, spec.source.name))[0]


def _day_range(conn: connection, spec: TableSpec) -> tuple[date | None, date | None]:
    query = sql.SQL("SELECT min({column})::date, max({column})::date FROM {table}").format(
        column=sql.Identifier(spec.partition_column), table=_source(spec)
    )
    first, last = _fetchone(conn, query)
    return first, last


def _fetchone(conn: connection, query: sql.Composable, params: dict | tuple = ()) -> tuple:
    with conn, conn.cursor() as cur:
        cur.execute(query, params)
        row = cur.fetchone()
    if row is None:
        raise RuntimeError("the demo database returned no row where one is always returned")
    return row
