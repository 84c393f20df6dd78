"""What the FOCUS and Cost Optimization Hub generators share: table creation and re-delivery picks.

Each generated export lives in a PostgreSQL table playing Redshift and is later re-delivered in
part, as AWS does: some rows of one day vanish, some change, some arrive late. Which rows is a
seeded, content-based draw, so a re-delivery is as reproducible as the data itself. The picks
address rows by ``ctid`` (valid inside the one transaction that uses them), which works for the
keyless FOCUS table as well as for the keyed recommendations.
"""

from __future__ import annotations

import datetime
import functools
import json
from dataclasses import dataclass
from typing import Any

from psycopg2 import sql
from psycopg2.extensions import connection, cursor

from qupersync_dagster.devkit.cur_data import install_redshift_shims

Columns = tuple[tuple[str, str], ...]

# JSON maps are written compactly, as Redshift's JSON_SERIALIZE writes SUPER.
compact_json = functools.partial(json.dumps, separators=(",", ":"), ensure_ascii=False)

# Row numbers 0..rows-1 with their ids (md5 of the prefix and the number) and two 64-bit hashes
# of each id, whose bits make every per-row choice. A generator's SELECT says ``FROM HASHED_IDS``
# and passes through ``with_hashed_ids``.
_HASHED_IDS = """(
        SELECT n, m, hashtextextended(m, 1) AS h1, hashtextextended(m, 2) AS h2
        FROM (
            SELECT n, md5(%(id_prefix)s || n) AS m
            FROM generate_series(0::bigint, %(rows)s - 1) AS n
        ) ids
    ) hashed"""

# The day's rows, one draw per purpose; ties are broken by the whole row's text, so every pick
# is a total order whatever the physical layout.
_COLLECT = """
CREATE TEMPORARY TABLE day_rows ON COMMIT DROP AS
SELECT t.ctid AS row_ctid, t::text AS row_text,
       hashtextextended('remove:' || t::text, %(seed)s) AS remove_draw,
       hashtextextended('change:' || t::text, %(seed)s) AS change_draw,
       hashtextextended('template:' || t::text, %(seed)s) AS template_draw,
       false AS removed
FROM {table} t
WHERE {column} >= %(day_start)s AND {column} < %(day_end)s
"""

_REMOVE = """
WITH picked AS (
    UPDATE pg_temp.day_rows SET removed = true
    WHERE row_ctid = ANY(ARRAY(
        SELECT row_ctid FROM pg_temp.day_rows
        ORDER BY remove_draw, row_text
        LIMIT %(count)s))
    RETURNING row_ctid
)
DELETE FROM {table} WHERE ctid = ANY(ARRAY(SELECT row_ctid FROM picked))
"""

# ``count`` remaining rows and a factor each in 0.80..0.99 or 1.01..1.20: never 1, so a
# multiplied non-zero value always changes. Use as ``FROM ({CHANGED}) pick``.
CHANGED = """
SELECT row_ctid,
       CASE WHEN abs(change_draw %% 40) < 20 THEN 0.80 + abs(change_draw %% 40) * 0.01
            ELSE 0.81 + abs(change_draw %% 40) * 0.01
       END AS factor
FROM pg_temp.day_rows
WHERE NOT removed
ORDER BY change_draw, row_text
LIMIT %(count)s
"""

# ``count`` remaining rows, cycled, as (i, row_ctid) for i in 0..count-1: what late rows copy.
TEMPLATES = """
SELECT i, (pick.ctids)[i %% cardinality(pick.ctids) + 1] AS row_ctid
FROM generate_series(0, %(count)s - 1) AS i
CROSS JOIN (
    SELECT ARRAY(SELECT row_ctid FROM pg_temp.day_rows WHERE NOT removed
                 ORDER BY template_draw, row_text LIMIT %(count)s) AS ctids
) pick
WHERE cardinality(pick.ctids) > 0
"""


def with_hashed_ids(select: str) -> str:
    return select.replace("HASHED_IDS", _HASHED_IDS)


def qualified(schema: str, table: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))


def column_list(columns: Columns) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(name) for name, _ in columns)


def create_table(
    conn: connection, schema: str, table: str, columns: Columns, not_null: tuple[str, ...]
) -> None:
    """Create ``schema.table`` (and the schema if needed) without a PRIMARY KEY; commits.

    Redshift enforces no primary key and the sync must not rely on one. Also installs the
    Redshift shims (``JSON_SERIALIZE``).
    """
    definitions = sql.SQL(", ").join(
        sql.SQL("{} {}{}").format(
            sql.Identifier(name),
            sql.SQL(ddl_type),
            sql.SQL(" NOT NULL" if name in not_null else ""),
        )
        for name, ddl_type in columns
    )
    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        cur.execute(sql.SQL("CREATE TABLE {} ({})").format(qualified(schema, table), definitions))
    install_redshift_shims(conn)


def check_counts(days: int, rows: int) -> None:
    if days < 1:
        raise ValueError(f"days must be at least 1, not {days}")
    if rows < 0:
        raise ValueError(f"rows must not be negative, not {rows}")


def check_fractions(**fractions: float) -> None:
    for name, fraction in fractions.items():
        if not 0 <= fraction <= 1:
            raise ValueError(f"{name} must lie between 0 and 1, not {fraction}")


def share(fraction: float, count: int) -> int:
    """``fraction`` of ``count``, rounded half up."""
    return int(fraction * count + 0.5)


def day_bounds(day: datetime.date) -> dict[str, Any]:
    start = datetime.datetime.combine(day, datetime.time())
    return {"day_start": start, "day_end": start + datetime.timedelta(days=1)}


def _collect_day(
    cur: cursor, table: sql.Composed, column: str, day: datetime.date, seed: int
) -> int:
    """List ``day``'s rows (by ``column``) in ``pg_temp.day_rows``; returns how many there are."""
    statement = sql.SQL(_COLLECT).format(table=table, column=sql.Identifier(column))
    cur.execute(statement, day_bounds(day) | {"seed": seed})
    count = cur.rowcount
    cur.execute("ANALYZE pg_temp.day_rows")
    return count


def _remove_picked(cur: cursor, table: sql.Composed, count: int) -> int:
    """Delete ``count`` of the collected rows; returns how many were deleted."""
    cur.execute(sql.SQL(_REMOVE).format(table=table), {"count": count})
    return cur.rowcount


def scalar(cur: cursor, statement: sql.Composable | str) -> Any:
    """The one value ``statement`` selects."""
    cur.execute(statement)
    (value,) = cur.fetchone() or (None,)
    return value


def _fingerprint(cur: cursor) -> str:
    return str(
        scalar(
            cur,
            "SELECT md5(coalesce(string_agg(row_text, E'\\n' ORDER BY row_text), ''))"
            " FROM pg_temp.day_rows WHERE NOT removed",
        )
    )


@dataclass(frozen=True)
class Redelivery:
    """A re-delivery under way: the day's rows are collected and some removed."""

    rows: int  # the day's rows before
    removed: int
    fingerprint: str  # md5 of the rows left: what late rows' ids hash, so none ever repeats


def start_redelivery(
    cur: cursor, table: sql.Composed, column: str, day: datetime.date, seed: int, fraction: float
) -> Redelivery | None:
    """Collect ``day``'s rows and delete ``fraction`` of them; None when the day has no rows."""
    rows = _collect_day(cur, table, column, day, seed)
    if rows == 0:
        return None
    removed = _remove_picked(cur, table, share(fraction, rows))
    return Redelivery(rows, removed, _fingerprint(cur))
