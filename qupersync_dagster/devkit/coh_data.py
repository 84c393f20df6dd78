"""A reproducible Cost Optimization Hub recommendations export, with churn, inside PostgreSQL.

AWS Data Exports delivers Cost Optimization Hub's recommendations (``COST_OPTIMIZATION_
RECOMMENDATIONS``) as a daily snapshot: the same recommendation comes back refreshed (new
estimates, a new ``last_refresh_timestamp``), disappears once implemented, and new ones appear.
Loaded into Redshift keyed by ``recommendation_id``, that is the table QuperSync's upsert mode
with a watermark is for: only refreshed and new rows are read, and a row count that no longer
matches reveals the deletions to reconcile. This module writes such a table for the demo and the
tests and makes that churn on demand.

The export has no stable date to partition by (``last_refresh_timestamp`` moves every refresh),
so the table carries ``first_seen_at``, the day the loading job first saw the recommendation, as
loaders of snapshot exports commonly record: a recommendation stays in one daily partition for
its whole life. Columns follow the export's snake_case names; estimates are DOUBLE PRECISION,
``tags`` a JSON map (``json`` stands in for SUPER), the resource details JSON text, as exported.

Reproducible like the other generators: ids and every draw hash the seed, the arguments and the
row number, never the clock, and one ``INSERT ... SELECT`` makes the rows on the server.
"""

from __future__ import annotations

import datetime
from typing import Any

from psycopg2 import sql
from psycopg2.extensions import connection, cursor
from psycopg2.extras import Json

from qupersync_dagster.devkit import source_tables
from qupersync_dagster.devkit.source_tables import qualified

COH_COLUMNS: source_tables.Columns = (
    ("recommendation_id", "varchar(128)"),
    ("account_id", "varchar(32)"),
    ("action_type", "varchar(64)"),
    ("currency_code", "varchar(8)"),
    ("current_resource_type", "varchar(64)"),
    ("current_resource_summary", "varchar(1024)"),
    ("current_resource_details", "varchar(4096)"),
    ("recommended_resource_type", "varchar(64)"),
    ("recommended_resource_summary", "varchar(1024)"),
    ("recommended_resource_details", "varchar(4096)"),
    ("estimated_monthly_cost_before_discount", "double precision"),
    ("estimated_monthly_cost_after_discount", "double precision"),
    ("estimated_monthly_savings_before_discount", "double precision"),
    ("estimated_monthly_savings_after_discount", "double precision"),
    ("estimated_savings_percentage_before_discount", "double precision"),
    ("estimated_savings_percentage_after_discount", "double precision"),
    ("implementation_effort", "varchar(32)"),
    ("recommendation_lookback_period_in_days", "integer"),
    ("recommendation_source", "varchar(64)"),
    ("region", "varchar(32)"),
    ("resource_arn", "varchar(512)"),
    ("resource_id", "varchar(512)"),
    ("restart_needed", "boolean"),
    ("rollback_possible", "boolean"),
    ("tags", "json"),
    ("last_refresh_timestamp", "timestamp"),
    ("first_seen_at", "timestamp"),
)
PRIMARY_KEY = ("recommendation_id",)
PARTITION_COLUMN = "first_seen_at"
WATERMARK_COLUMN = "last_refresh_timestamp"

# (action_type, current type, current size, recommended type, recommended size, effort, source,
#  restart needed, rollback possible, monthly cost of the current resource, share saved,
#  resource ARN format (%1$s region, %2$s account, %3$s 16 hex digits) or None: not a resource)
# fmt: off
_KINDS = (
    ("Rightsize", "Ec2Instance", "m5.2xlarge", "Ec2Instance", "m5.xlarge", "Medium",
     "ComputeOptimizer", True, True, "280.32", "0.5", "arn:aws:ec2:%1$s:%2$s:instance/i-0%3$s"),
    ("MigrateToGraviton", "Ec2Instance", "c5.2xlarge", "Ec2Instance", "c6g.2xlarge", "Medium",
     "ComputeOptimizer", True, True, "248.20", "0.2", "arn:aws:ec2:%1$s:%2$s:instance/i-0%3$s"),
    ("Stop", "Ec2Instance", "t3.large", "Ec2Instance", "", "Low", "ComputeOptimizer", True, True,
     "60.74", "1", "arn:aws:ec2:%1$s:%2$s:instance/i-0%3$s"),
    ("Delete", "EbsVolume", "gp2 500 GiB", "EbsVolume", "", "VeryLow", "ComputeOptimizer",
     False, False, "50.00", "1", "arn:aws:ec2:%1$s:%2$s:volume/vol-0%3$s"),
    ("Upgrade", "EbsVolume", "gp2 500 GiB", "EbsVolume", "gp3 500 GiB", "VeryLow",
     "ComputeOptimizer", False, True, "50.00", "0.2", "arn:aws:ec2:%1$s:%2$s:volume/vol-0%3$s"),
    ("Rightsize", "LambdaFunction", "3008 MB", "LambdaFunction", "1024 MB", "VeryLow",
     "ComputeOptimizer", False, True, "42.10", "0.6",
     "arn:aws:lambda:%1$s:%2$s:function:ingest-%3$s"),
    ("Rightsize", "RdsDbInstance", "db.r6g.2xlarge", "RdsDbInstance", "db.r6g.xlarge", "Medium",
     "ComputeOptimizer", True, True, "650.00", "0.5", "arn:aws:rds:%1$s:%2$s:db:orders-%3$s"),
    ("PurchaseSavingsPlans", "ComputeSavingsPlans", "On-Demand", "ComputeSavingsPlans",
     "1 year No Upfront, 2.50 USD/hour", "Low", "CostExplorer", False, False, "2100.00", "0.27",
     None),
    ("PurchaseReservedInstances", "Ec2ReservedInstances", "On-Demand m5.large",
     "Ec2ReservedInstances", "3 x m5.large, 1 year No Upfront", "Low", "CostExplorer", False,
     False, "210.24", "0.35", None),
)
# fmt: on
_ACCOUNTS = ("111122223333", "210987654321", "305419896123", "398765432109", "402938475610")
_REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1")
_TAGS = (
    {"Team": "data", "Environment": "prod"},
    {"Team": "web", "Environment": "staging"},
    {"Team": "ml", "Project": "recommender", "Owner": "José Núñez"},
)

# ``refreshed_at`` NULL: each recommendation was last refreshed up to six hours after it was
# first seen; otherwise all were refreshed then (a later export). After-discount figures are
# 7% lower for the accounts under an enterprise discount (every other one).
_SELECT = source_tables.with_hashed_ids("""
WITH
kinds AS MATERIALIZED (
    SELECT * FROM jsonb_to_recordset(%(kinds)s) AS k(
        i int, action text, current_type text, current_size text, recommended_type text,
        recommended_size text, effort text, source text, restart boolean, rollback boolean,
        cost numeric, saved numeric, arn text)
),
draws AS (
    SELECT n, m, h1, h2,
           %(start)s::timestamp + (n * %(days)s / %(rows)s) * interval '1 day'
               + ((h1 >> 8) & 1048575) %% 86400 * interval '1 second' AS first_seen,
           (h1 & 255) %% %(kind_count)s AS kind_i,
           ((h1 >> 32) & 255) %% cardinality(%(accounts)s::text[]) + 1 AS account_i,
           ((h1 >> 40) & 255) %% cardinality(%(regions)s::text[]) + 1 AS region_i,
           0.5 + ((h2 & 1048575) %% 1000) * 0.001 AS scale,
           ((h2 >> 20) & 255) %% 3 AS lookback_i,
           ((h2 >> 28) & 255) %% (%(tag_count)s + 1) AS tag_i,
           ((h2 >> 36) & 1048575) %% 21600 AS refresh_delay
    FROM HASHED_IDS
),
estimated AS (
    SELECT d.*, k.*,
           (%(accounts)s::text[])[account_i] AS account_id,
           CASE WHEN k.arn IS NULL THEN 'global' ELSE (%(regions)s::text[])[region_i] END
               AS region_code,
           round(k.cost * d.scale, 4) AS cost_before,
           CASE WHEN account_i %% 2 = 0 THEN 0.93 ELSE 1 END AS discount
    FROM draws d
    JOIN kinds k ON k.i = d.kind_i
)
SELECT rtrim(encode(decode(m, 'hex'), 'base64'), '=') AS recommendation_id,
       account_id,
       action AS action_type,
       'USD' AS currency_code,
       current_type AS current_resource_type,
       current_size AS current_resource_summary,
       format('{"resourceType":"%%s","size":"%%s","region":"%%s"}',
              current_type, current_size, region_code) AS current_resource_details,
       recommended_type AS recommended_resource_type,
       nullif(recommended_size, '') AS recommended_resource_summary,
       CASE WHEN recommended_size <> '' THEN
           format('{"resourceType":"%%s","size":"%%s","region":"%%s"}',
                  recommended_type, recommended_size, region_code)
       END AS recommended_resource_details,
       cost_before::float8 AS estimated_monthly_cost_before_discount,
       round(cost_before * discount, 4)::float8 AS estimated_monthly_cost_after_discount,
       round(cost_before * saved, 4)::float8 AS estimated_monthly_savings_before_discount,
       round(cost_before * saved * discount, 4)::float8
           AS estimated_monthly_savings_after_discount,
       round(saved * 100, 2)::float8 AS estimated_savings_percentage_before_discount,
       round(saved * 100, 2)::float8 AS estimated_savings_percentage_after_discount,
       effort AS implementation_effort,
       (ARRAY[14, 30, 60])[lookback_i + 1] AS recommendation_lookback_period_in_days,
       source AS recommendation_source,
       region_code AS region,
       format(arn, region_code, account_id, left(m, 16)) AS resource_arn,
       coalesce(substring(format(arn, region_code, account_id, left(m, 16)) FROM '[^/:]+$'),
                'sp-' || left(m, 12)) AS resource_id,
       restart AS restart_needed,
       rollback AS rollback_possible,
       CASE WHEN arn IS NOT NULL THEN %(tags)s::json -> (tag_i::int) END AS tags,
       coalesce(%(refreshed_at)s, first_seen + refresh_delay * interval '1 second')
           AS last_refresh_timestamp,
       first_seen AS first_seen_at
FROM estimated
""")

_REFRESH = """
UPDATE {table} t
SET estimated_monthly_cost_before_discount
        = round((estimated_monthly_cost_before_discount * pick.factor)::numeric, 4)::float8,
    estimated_monthly_cost_after_discount
        = round((estimated_monthly_cost_after_discount * pick.factor)::numeric, 4)::float8,
    estimated_monthly_savings_before_discount
        = round((estimated_monthly_savings_before_discount * pick.factor)::numeric, 4)::float8,
    estimated_monthly_savings_after_discount
        = round((estimated_monthly_savings_after_discount * pick.factor)::numeric, 4)::float8,
    last_refresh_timestamp = %(refreshed_at)s
FROM ({changed}) pick
WHERE t.ctid = pick.row_ctid
"""


def create_source_table(conn: connection, schema: str, table: str) -> None:
    """Create ``schema.table`` with the export's columns (and the schema if needed); commits."""
    not_null = (*PRIMARY_KEY, WATERMARK_COLUMN, PARTITION_COLUMN)
    source_tables.create_table(conn, schema, table, COH_COLUMNS, not_null)


def _catalog() -> dict[str, Any]:
    keys = (
        "action", "current_type", "current_size", "recommended_type", "recommended_size",
        "effort", "source", "restart", "rollback", "cost", "saved", "arn",
    )  # fmt: skip
    kinds = [{"i": i, **dict(zip(keys, kind, strict=True))} for i, kind in enumerate(_KINDS)]
    return {
        "kinds": Json(kinds),
        "kind_count": len(_KINDS),
        "accounts": list(_ACCOUNTS),
        "regions": list(_REGIONS),
        "tags": Json(list(_TAGS), dumps=source_tables.compact_json),
        "tag_count": len(_TAGS),
    }


def _insert(cur: cursor, target: sql.Composed, parameters: dict[str, Any]) -> int:
    statement = sql.SQL("INSERT INTO {} ({})").format(
        target, source_tables.column_list(COH_COLUMNS)
    ) + sql.SQL(_SELECT)
    cur.execute(statement, _catalog() | parameters)
    return cur.rowcount


def generate(
    conn: connection,
    schema: str,
    table: str,
    *,
    start: datetime.date,
    days: int,
    rows: int,
    seed: int = 42,
) -> int:
    """Append ``rows`` recommendations first seen over ``days`` days from ``start``; commits.

    Day ``d`` gets rows ``n`` with ``n * days // rows == d``. Ids hash the seed, the arguments
    and the row number, so calls that differ in any of them never share a key. Returns the number
    of rows inserted.
    """
    source_tables.check_counts(days, rows)
    parameters = {
        "start": start,
        "days": days,
        "rows": rows,
        "refreshed_at": None,
        "id_prefix": f"coh:{seed}:{start.isoformat()}:{days}:{rows}:",
    }
    with conn, conn.cursor() as cur:
        return _insert(cur, qualified(schema, table), parameters)


def restate_day(
    conn: connection,
    schema: str,
    table: str,
    day: datetime.date,
    *,
    remove_fraction: float = 0.05,
    change_fraction: float = 0.2,
    new_recommendations: int = 3,
    seed: int = 7,
) -> dict[str, int]:
    """Deliver a later export of the recommendations first seen on ``day``; commits.

    ``remove_fraction`` of them are gone (implemented or dismissed), ``change_fraction`` of the
    rest are refreshed (cost and savings estimates times a factor in 0.80..1.20, never 1), and
    ``new_recommendations`` recommendations first seen that day arrive late. Refreshed and new
    rows carry a ``last_refresh_timestamp`` one hour past the newest in the table, as a new
    export would, so a watermark read finds exactly them. A day without rows stays empty.
    Returns ``{"removed": n, "changed": n, "added": n}``.
    """
    source_tables.check_fractions(remove_fraction=remove_fraction, change_fraction=change_fraction)
    if new_recommendations < 0:
        raise ValueError(f"new_recommendations must not be negative, not {new_recommendations}")
    target = qualified(schema, table)
    with conn, conn.cursor() as cur:
        newest = source_tables.scalar(
            cur, sql.SQL("SELECT max({}) FROM {}").format(sql.Identifier(WATERMARK_COLUMN), target)
        )
        started = source_tables.start_redelivery(
            cur, target, PARTITION_COLUMN, day, seed, remove_fraction
        )
        if started is None:
            return {"removed": 0, "changed": 0, "added": 0}
        refreshed_at = newest + datetime.timedelta(hours=1)
        late = {
            "start": day,
            "days": 1,
            "rows": new_recommendations,
            "refreshed_at": refreshed_at,
            "id_prefix": f"coh-late:{seed}:{day.isoformat()}:{started.fingerprint}:",
        }
        added = _insert(cur, target, late)
        refresh = sql.SQL(_REFRESH).format(table=target, changed=sql.SQL(source_tables.CHANGED))
        count = source_tables.share(change_fraction, started.rows - started.removed)
        cur.execute(refresh, {"count": count, "refreshed_at": refreshed_at})
        changed = cur.rowcount
    return {"removed": started.removed, "changed": changed, "added": added}
