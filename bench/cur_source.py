"""The emulated Redshift CUR table every contender reads.

Made with ``devkit.cur_data`` (the realistic 27-column CUR 2.0 schema, generated inside the
server) and then shaped the way a CUR table in Redshift is:

* The rows are stored in usage-day order, as Redshift's sort key on the usage date keeps them,
  so reading one day touches that day's blocks only. Generated rows come out in hash order; left
  that way, every one-day read would scan pages of the whole table, which no CUR table in
  Redshift makes anyone pay for.
* The table is vacuumed and analysed once, so that no contender pays for the first visit to the
  freshly written rows (hint bits), whichever runs first.
"""

from __future__ import annotations

import contextlib
import time
from datetime import date

from psycopg2 import sql

from qupersync_dagster.devkit import cur_data
from qupersync_dagster.devkit.embedded import ServerAddress

SCHEMA = "billing"
TABLE = "cur_line_items"
PARTITION_COLUMN = "line_item_usage_start_date"


def create(server: ServerAddress, database: str, *, start: date, days: int, rows: int) -> float:
    """Create ``database`` with the CUR table of ``rows`` rows over ``days`` days; seconds taken."""
    started = time.perf_counter()
    server.create_database(database, replace=True)
    table = sql.Identifier(SCHEMA, TABLE)
    with contextlib.closing(server.connect(database)) as conn:
        cur_data.create_source_table(conn, SCHEMA, TABLE)
        cur_data.generate(conn, SCHEMA, TABLE, start=start, days=days, rows=rows)
        index = sql.Identifier(f"{TABLE}_usage_day")
        with conn, conn.cursor() as cursor:
            cursor.execute(
                sql.SQL("CREATE INDEX {} ON {} ({})").format(
                    index, table, sql.Identifier(PARTITION_COLUMN)
                )
            )
            cursor.execute(sql.SQL("CLUSTER {} USING {}").format(table, index))
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(sql.SQL("VACUUM (FREEZE, ANALYZE) {}").format(table))
    return time.perf_counter() - started


def restate(server: ServerAddress, database: str, day: date, *, seed: int) -> dict[str, int]:
    """Re-deliver ``day`` as AWS does (rows removed, costs changed, late credits added)."""
    with contextlib.closing(server.connect(database)) as conn:
        changes = cur_data.restate_day(conn, SCHEMA, TABLE, day, seed=seed)
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(SCHEMA, TABLE)))
    return changes
