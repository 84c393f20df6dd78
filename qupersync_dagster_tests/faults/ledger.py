"""A small usage ledger to sync while faults are injected, and independent reads of both ends.

Fault tests need a table whose size and content they control exactly (a kill needs one very
large day, a cut needs many small FETCHes), and they must judge the target by SQL run directly on
both databases, never by QuperSync's own bookkeeping. Rows are generated inside the server from
``generate_series`` and hashed row numbers, so any content is reproducible from its arguments.
"""

from __future__ import annotations

import contextlib
from datetime import date, timedelta

from psycopg2 import sql

from qupersync_dagster.devkit.embedded import ServerAddress
from qupersync_dagster.domain.entities import SyncMode, TableRef, TableSpec

SCHEMA, TABLE = "billing", "usage_lines"
TARGET_SCHEMA = "cost"
START = date(2026, 10, 1)

COLUMNS = (
    ("line_id", "varchar(64) NOT NULL"),
    ("usage_start", "timestamp NOT NULL"),
    ("account_id", "varchar(12)"),
    ("product", "varchar(64)"),
    ("description", "varchar(256)"),
    ("cost", "numeric(30,10)"),
    ("updated_at", "timestamp NOT NULL"),
)
NAMES = tuple(name for name, _ in COLUMNS)

# Every 7th description carries the characters COPY text has to escape.
_FILL = """
INSERT INTO {table} ({columns})
SELECT %(prefix)s || g,
       %(day)s::timestamp + make_interval(secs => (g * 86399.0 / %(rows)s)),
       lpad((abs(hashtext(%(prefix)s || g)) %% 1000)::text, 12, '0'),
       (ARRAY['AmazonEC2', 'AmazonS3', 'AmazonRDS', 'AWSLambda'])[1 + g %% 4],
       CASE WHEN g %% 7 = 0 THEN E'tab\\there, line\\nbreak, back\\\\slash, \\\\N, "q"'
            WHEN g %% 11 = 0 THEN NULL
            WHEN g %% 13 = 0 THEN ''
            ELSE 'usage ' || md5(%(prefix)s || g) END,
       ((abs(hashtext('c' || %(prefix)s || g)) %% 10000000000) - 1000000000) * 0.0000000001,
       %(day)s::timestamp + interval '2 days'
FROM generate_series(1, %(rows)s) AS g
"""


def spec(mode: SyncMode = SyncMode.REPLACE, **overrides) -> TableSpec:
    """The ledger's table spec; upsert mode keys on ``line_id`` with ``updated_at`` watermark."""
    values = {
        "name": TABLE,
        "source": TableRef(SCHEMA, TABLE),
        "target": TableRef(TARGET_SCHEMA, TABLE),
        "partition_column": "usage_start",
        "start_date": START,
        "mode": mode,
        "primary_key": ("line_id",),
        "measure_column": "cost",
        "watermark_column": "updated_at" if mode is SyncMode.UPSERT else None,
    }
    return TableSpec(**(values | overrides))


_SOURCE = sql.Identifier(SCHEMA, TABLE)


def create(conn) -> None:
    """Create the (empty) source table; commits."""
    with conn, conn.cursor() as cur:
        create_in(cur)


def create_in(cur) -> None:
    """``create`` in the cursor's transaction."""
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind)) for name, kind in COLUMNS
    )
    cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(SCHEMA)))
    cur.execute(sql.SQL("CREATE TABLE {} ({})").format(_SOURCE, columns))


def fill(conn, *, start: date = START, days: int, rows_per_day: int, salt: str = "") -> None:
    """Append ``rows_per_day`` rows to each of ``days`` days from ``start``; commits."""
    with conn, conn.cursor() as cur:
        fill_in(cur, start=start, days=days, rows_per_day=rows_per_day, salt=salt)


def fill_in(cur, *, start: date = START, days: int, rows_per_day: int, salt: str = "") -> None:
    """``fill`` in the cursor's transaction."""
    statement = sql.SQL(_FILL).format(
        table=_SOURCE, columns=sql.SQL(", ").join(map(sql.Identifier, NAMES))
    )
    for offset in range(days):
        day = start + timedelta(days=offset)
        prefix = f"{salt}{day.isoformat()}-"
        cur.execute(statement, {"prefix": prefix, "day": day, "rows": rows_per_day})


def restate(conn, day: date) -> None:
    """Re-deliver ``day``: drop a fifth, change a tenth, add two credits; commits; repeatable."""
    with conn, conn.cursor() as cur:
        restate_in(cur, day)


def restate_in(cur, day: date) -> None:
    """``restate`` in the cursor's transaction."""
    table = _SOURCE
    window = {"start": day, "end": day + timedelta(days=1)}
    in_day = sql.SQL("usage_start >= %(start)s AND usage_start < %(end)s")
    cur.execute(
        sql.SQL("DELETE FROM {} WHERE {} AND right(line_id, 1) IN ('0', '5')").format(
            table, in_day
        ),
        window,
    )
    cur.execute(
        sql.SQL(
            "UPDATE {} SET cost = cost * 1.25 + 0.0000000001,"
            " updated_at = updated_at + interval '1 day' WHERE {} AND right(line_id, 1) = '3'"
        ).format(table, in_day),
        window,
    )
    cur.execute(
        sql.SQL(
            "INSERT INTO {} SELECT line_id || '-c' || extract(epoch FROM updated_at)::bigint,"
            " usage_start, account_id, product,"
            " 'late credit', -cost, updated_at + interval '1 day' FROM {}"
            " WHERE {} AND right(line_id, 1) = '3' LIMIT 2"
        ).format(table, table, in_day),
        window,
    )


def _rows_digest(cur, table: sql.Composable, day: date | None) -> tuple[int, str | None]:
    where = sql.SQL("")
    params: dict = {}
    if day is not None:
        where = sql.SQL(" WHERE usage_start >= %(start)s AND usage_start < %(end)s")
        params = {"start": day, "end": day + timedelta(days=1)}
    cur.execute(
        sql.SQL(
            "SELECT COUNT(*), md5(string_agg(r, '|' ORDER BY r)) FROM"
            " (SELECT concat_ws(',', {columns}) AS r FROM {table}{where}) AS rows"
        ).format(
            columns=sql.SQL(", ").join(
                sql.SQL("quote_nullable({})").format(sql.Identifier(n)) for n in NAMES
            ),
            table=table,
            where=where,
        ),
        params,
    )
    return cur.fetchone()


def digest(
    server: ServerAddress, database: str, *, target: bool, day: date | None = None
) -> tuple[int, str | None]:
    """Row count and an order-independent md5 over every cell, of one day or the whole table."""
    table = sql.Identifier(TARGET_SCHEMA if target else SCHEMA, TABLE)
    with contextlib.closing(server.connect(database)) as conn, conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)", (f"{TARGET_SCHEMA if target else SCHEMA}.{TABLE}",))
        if cur.fetchone()[0] is None:
            return 0, None
        return _rows_digest(cur, table, day)


def snapshot(server: ServerAddress, target_db: str) -> tuple:
    """Everything a sync may change in the target: the mirrored rows and the sync state."""
    with contextlib.closing(server.connect(target_db)) as conn, conn.cursor() as cur:
        cur.execute("SELECT to_regclass('qupersync.sync_state')")
        states: list = []
        if cur.fetchone()[0] is not None:
            cur.execute("SELECT * FROM qupersync.sync_state ORDER BY table_name, partition_key")
            states = cur.fetchall()
    return digest(server, target_db, target=True), states


def days(first: date, count: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(count)]


def mismatches(
    server: ServerAddress, source_db: str, target_db: str, first: date, count: int
) -> list[str]:
    """Days of the range whose target rows or stored row count differ from the source."""
    with contextlib.closing(server.connect(target_db)) as conn, conn.cursor() as cur:
        cur.execute("SELECT to_regclass('qupersync.sync_state')")
        states: dict = {}
        if cur.fetchone()[0] is not None:
            cur.execute(
                "SELECT partition_key, row_count FROM qupersync.sync_state WHERE table_name = %s",
                (TABLE,),
            )
            states = dict(cur.fetchall())
    found = []
    for day in days(first, count):
        source = digest(server, source_db, target=False, day=day)
        target = digest(server, target_db, target=True, day=day)
        if target != source or states.get(day.isoformat()) != source[0]:
            found.append(f"{day}: source {source}, target {target}, state {states.get(str(day))}")
    return found


def mirrors_source(
    server: ServerAddress, source_db: str, target_db: str, first: date, count: int
) -> bool:
    return not mismatches(server, source_db, target_db, first, count)


def assert_mirrors_source(
    server: ServerAddress, source_db: str, target_db: str, first: date, count: int
) -> None:
    """Every day of the range equals the source cell for cell, and its state counts its rows."""
    assert mismatches(server, source_db, target_db, first, count) == []
