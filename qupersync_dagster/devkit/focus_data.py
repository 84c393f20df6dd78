"""A reproducible FOCUS 1.2 cost-and-usage export, generated inside PostgreSQL.

QuperSync mirrors more than the AWS CUR: AWS Data Exports also delivers the FinOps Open Cost and
Usage Specification (FOCUS 1.2), and FinOps teams load it into Redshift next to the CUR. This
module writes such a table (the local Redshift stand-in) for the demo and the tests, and can
re-deliver a day as AWS does (rows removed, costs restated, late credits).

Column names are lower case: the export names its columns in PascalCase (``ChargePeriodStart``),
but Redshift folds unquoted identifiers to lower case unless ``enable_case_sensitive_identifier``
is on, so a table loaded with ``COPY`` has ``chargeperiodstart``. The subset here is the one a
FinOps user queries: the four cost columns, as DOUBLE PRECISION (the export's decimals land as
floats), charge, service, SKU, region, account and commitment columns, ``Tags`` as a JSON map
(``json`` stands in for SUPER, as in ``cur_data``) and two of AWS's ``x_`` columns. There is no
row key in FOCUS, so the table has none and is synced in replace mode.

As in ``cur_data``: everything comes from hashing the seed, the arguments and the row number
(nothing reads the clock), and the rows are made by one ``INSERT ... SELECT`` on the server.
"""

from __future__ import annotations

import datetime
from typing import Any

from psycopg2 import sql
from psycopg2.extensions import connection
from psycopg2.extras import Json

from qupersync_dagster.devkit import source_tables
from qupersync_dagster.devkit.source_tables import qualified

FOCUS_COLUMNS: source_tables.Columns = (
    ("billingaccountid", "varchar(32)"),
    ("billingaccountname", "varchar(256)"),
    ("billingcurrency", "varchar(8)"),
    ("billingperiodstart", "timestamp"),
    ("billingperiodend", "timestamp"),
    ("invoiceid", "varchar(64)"),
    ("invoiceissuername", "varchar(64)"),
    ("providername", "varchar(64)"),
    ("publishername", "varchar(64)"),
    ("subaccountid", "varchar(32)"),
    ("subaccountname", "varchar(256)"),
    ("chargeperiodstart", "timestamp"),
    ("chargeperiodend", "timestamp"),
    ("chargecategory", "varchar(32)"),
    ("chargeclass", "varchar(32)"),
    ("chargefrequency", "varchar(32)"),
    ("chargedescription", "varchar(1024)"),
    ("servicecategory", "varchar(64)"),
    ("servicesubcategory", "varchar(128)"),
    ("servicename", "varchar(128)"),
    ("skuid", "varchar(64)"),
    ("skupriceid", "varchar(128)"),
    ("regionid", "varchar(32)"),
    ("regionname", "varchar(64)"),
    ("resourceid", "varchar(512)"),
    ("resourcetype", "varchar(128)"),
    ("pricingcategory", "varchar(32)"),
    ("pricingquantity", "double precision"),
    ("pricingunit", "varchar(64)"),
    ("consumedquantity", "double precision"),
    ("consumedunit", "varchar(64)"),
    ("listunitprice", "double precision"),
    ("contractedunitprice", "double precision"),
    ("listcost", "double precision"),
    ("contractedcost", "double precision"),
    ("effectivecost", "double precision"),
    ("billedcost", "double precision"),
    ("commitmentdiscountid", "varchar(512)"),
    ("commitmentdiscounttype", "varchar(64)"),
    ("commitmentdiscountstatus", "varchar(32)"),
    ("tags", "json"),
    ("x_usagetype", "varchar(256)"),
    ("x_operation", "varchar(256)"),
)
PARTITION_COLUMN = "chargeperiodstart"
COST_COLUMNS = ("billedcost", "effectivecost", "listcost", "contractedcost")

# (ServiceName, ServiceCategory, ServiceSubcategory, usage type, operation, PricingUnit,
#  ConsumedUnit, list unit price, quantity step, max steps, ResourceType, resource id format
#  (%1$s region, %2$s account, %3$s 16 hex digits) or None, may a commitment cover it)
# fmt: off
_SERVICES = (
    ("Amazon Elastic Compute Cloud", "Compute", "Virtual Machines", "BoxUsage:m5.large",
     "RunInstances", "Hrs", "Hours", "0.096", "0.01", 100, "Instance", "i-0%3$s", True),
    ("Amazon Elastic Compute Cloud", "Compute", "Virtual Machines", "BoxUsage:c6i.2xlarge",
     "RunInstances", "Hrs", "Hours", "0.34", "0.01", 100, "Instance", "i-0%3$s", True),
    ("Amazon Elastic Compute Cloud", "Storage", "Block Storage", "EBS:VolumeUsage.gp3",
     "CreateVolume-Gp3", "GB-Mo", "GB-Mo", "0.08", "0.0001", 5000, "Volume", "vol-0%3$s", False),
    ("Amazon Relational Database Service", "Databases", "Relational Databases",
     "InstanceUsage:db.r6g.large", "CreateDBInstance:0014", "Hrs", "Hours", "0.225", "0.01", 100,
     "DBInstance", "arn:aws:rds:%1$s:%2$s:db:orders-%3$s", True),
    ("AWS Lambda", "Compute", "Serverless Compute", "Lambda-GB-Second", "Invoke",
     "Lambda-GB-Second", "GB-Seconds", "0.0000166667", "1", 360000, "Function",
     "arn:aws:lambda:%1$s:%2$s:function:ingest-%3$s", True),
    ("Amazon Simple Storage Service", "Storage", "Object Storage", "TimedStorage-ByteHrs",
     "StandardStorage", "GB-Mo", "GB-Mo", "0.023", "0.0001", 50000, "Bucket",
     "analytics-%2$s-%3$s", False),
    ("Amazon DynamoDB", "Databases", "NoSQL Databases", "ReadRequestUnits",
     "PayPerRequestThroughput", "ReadRequestUnits", "Requests", "0.00000025", "1", 2000000,
     "Table", "arn:aws:dynamodb:%1$s:%2$s:table/events-%3$s", False),
    ("Amazon CloudWatch", "Management and Governance", "Observability", "DataProcessing-Bytes",
     "PutLogEvents", "GB", "GB", "0.5", "0.001", 20000, "LogGroup",
     "arn:aws:logs:%1$s:%2$s:log-group:/aws/lambda/ingest-%3$s", False),
    ("AWS Data Transfer", "Networking", "Network Connectivity", "DataTransfer-Out-Bytes",
     "RunInstances", "GB", "GB", "0.09", "0.001", 50000, None, None, False),
    ("AWS Key Management Service", "Security", "Secret Management", "KMS-Requests",
     "GenerateDataKey", "Requests", "Requests", "0.000003", "1", 2000000, "Key",
     "arn:aws:kms:%1$s:%2$s:key/%3$s", False),
)
# fmt: on

# (SubAccountId, SubAccountName); the first is the management (billing) account.
_ACCOUNTS = (
    ("111122223333", "Example Corp Management"),
    ("210987654321", "data-platform-prod"),
    ("305419896123", "data-platform-dev"),
    ("398765432109", "web-storefront"),
    ("402938475610", "ml-research"),
    ("512345678901", "shared-networking"),
)
_REGIONS = (
    ("us-east-1", "US East (N. Virginia)"),
    ("us-west-2", "US West (Oregon)"),
    ("eu-west-1", "Europe (Ireland)"),
    ("eu-central-1", "Europe (Frankfurt)"),
    ("ap-northeast-1", "Asia Pacific (Tokyo)"),
)
# Resources carry one of these, or none (a quarter of them). FOCUS names user tags "user:Key".
_TAGS = (
    {"user:Team": "data", "user:Environment": "prod"},
    {"user:Team": "data", "user:Environment": "dev"},
    {"user:Team": "web", "user:Environment": "prod", "user:CostCenter": "CC-1042"},
    {"user:Team": "ml", "user:Project": "recommender"},
    {"aws:createdBy": "AssumedRole:AROAEXAMPLE:deploy", "user:Owner": "José Núñez"},
    {"user:Team": "platform"},
)

# ChargeCategory by draw in 0..99: Usage 86, Tax 4, Credit 3, Purchase 4, Adjustment 3.
_GENERATE = """
WITH
services AS MATERIALIZED (
    SELECT * FROM jsonb_to_recordset(%(services)s) AS s(
        i int, name text, service_category text, subcategory text, usage_type text, operation text,
        pricing_unit text, consumed_unit text, price numeric, step numeric, max_steps bigint,
        resource_type text, resource text, committable boolean)
),
accounts AS MATERIALIZED (
    SELECT * FROM jsonb_to_recordset(%(accounts)s) AS a(i int, id text, name text)
),
regions AS MATERIALIZED (
    SELECT * FROM jsonb_to_recordset(%(regions)s) AS r(i int, id text, name text)
),
draws AS (
    SELECT n, m, h1, h2,
           %(start)s::timestamp + (n * %(days)s / %(rows)s) * interval '1 day'
               + ((h1 >> 40) & 255) %% 24 * interval '1 hour' AS charge_start,
           (h1 & 1023) %% 100 AS kind,
           ((h1 >> 12) & 65535) %% %(service_count)s AS service_i,
           ((h1 >> 28) & 255) %% %(account_count)s AS account_i,
           ((h1 >> 48) & 255) %% %(region_count)s AS region_i,
           (h2 & 1023) %% 5 = 0 AS covered,
           ((h2 >> 10) & 1048575) AS amount_draw,
           ((h2 >> 40) & 255) %% (%(tag_count)s + 2) AS tag_i
    FROM (
        SELECT n, m, hashtextextended(m, 1) AS h1, hashtextextended(m, 2) AS h2
        FROM (
            SELECT n, md5(%(id_prefix)s || n) AS m
            FROM generate_series(0::bigint, %(rows)s - 1) AS n
        ) ids
    ) hashed
),
priced AS (
    SELECT d.*, s.*, a.id AS account_id, a.name AS account_name,
           r.id AS region_id, r.name AS region_name,
           date_trunc('month', d.charge_start) AS period_start,
           CASE WHEN d.kind < 86 THEN 'Usage' WHEN d.kind < 90 THEN 'Tax'
                WHEN d.kind < 93 THEN 'Credit' WHEN d.kind < 97 THEN 'Purchase'
                ELSE 'Adjustment' END AS category,
           d.covered AND s.committable AND d.kind < 86 AS committed,
           (d.amount_draw %% s.max_steps + 1) * s.step AS quantity,
           (d.amount_draw %% 5000000 + 1) * 0.000001 AS adjustment,
           format(s.resource, r.id, a.id, left(d.m, 16)) AS resource_id
    FROM draws d
    JOIN services s ON s.i = d.service_i
    JOIN accounts a ON a.i = d.account_i
    JOIN regions r ON r.i = d.region_i
),
costed AS (
    SELECT p.*,
           CASE category
                WHEN 'Usage' THEN quantity * price
                WHEN 'Purchase' THEN round(quantity * price * 0.6, 10)
                WHEN 'Tax' THEN round(quantity * price * 0.08, 10)
                ELSE 0 END AS list_cost,
           CASE category
                WHEN 'Credit' THEN -adjustment
                WHEN 'Adjustment' THEN CASE WHEN h2 < 0 THEN -adjustment ELSE adjustment END
           END AS correction
    FROM priced p
)
SELECT %(payer)s AS billingaccountid,
       %(payer_name)s AS billingaccountname,
       'USD' AS billingcurrency,
       period_start AS billingperiodstart,
       period_start + interval '1 month' AS billingperiodend,
       CASE WHEN period_start >= %(open_month_from)s THEN NULL
            ELSE (1000000000 + ('x' || left(md5('invoice:' || to_char(period_start, 'YYYY-MM')),
                                            8))::bit(32)::bigint)::text
       END AS invoiceid,
       'Amazon Web Services, Inc.' AS invoiceissuername,
       'AWS' AS providername,
       'Amazon Web Services, Inc.' AS publishername,
       account_id AS subaccountid,
       account_name AS subaccountname,
       charge_start AS chargeperiodstart,
       charge_start + interval '1 hour' AS chargeperiodend,
       category AS chargecategory,
       CASE WHEN category = 'Adjustment' THEN 'Correction' END AS chargeclass,
       CASE category WHEN 'Usage' THEN 'Usage-Based' WHEN 'Purchase' THEN 'Recurring'
            ELSE 'One-Time' END AS chargefrequency,
       CASE category
            WHEN 'Usage' THEN format('$%%s per %%s of %%s in %%s', price, pricing_unit,
                                     usage_type, region_name)
            WHEN 'Tax' THEN 'Tax for ' || name
            WHEN 'Credit' THEN 'AWS Activate credit applied to ' || name
            WHEN 'Purchase' THEN '1 year No Upfront Compute Savings Plan recurring fee'
            ELSE 'Billing correction for ' || name
       END AS chargedescription,
       CASE WHEN category = 'Purchase' THEN 'Compute' ELSE service_category END
           AS servicecategory,
       CASE WHEN category = 'Purchase' THEN 'Other (Compute)' ELSE subcategory END
           AS servicesubcategory,
       CASE WHEN category = 'Purchase' THEN 'Savings Plans for AWS Compute usage' ELSE name END
           AS servicename,
       upper(substr(md5('sku:' || name || usage_type), 1, 16)) AS skuid,
       upper(substr(md5('sku:' || name || usage_type), 1, 16)) || '.JRTCKXETXF' AS skupriceid,
       region_id AS regionid,
       region_name AS regionname,
       CASE WHEN category = 'Usage' THEN resource_id END AS resourceid,
       CASE WHEN category = 'Usage' THEN resource_type END AS resourcetype,
       CASE WHEN category <> 'Usage' THEN NULL WHEN committed THEN 'Committed'
            ELSE 'Standard' END AS pricingcategory,
       CASE WHEN category = 'Usage' THEN quantity::float8 END AS pricingquantity,
       CASE WHEN category = 'Usage' THEN pricing_unit END AS pricingunit,
       CASE WHEN category = 'Usage' THEN quantity::float8 END AS consumedquantity,
       CASE WHEN category = 'Usage' THEN consumed_unit END AS consumedunit,
       CASE WHEN category = 'Usage' THEN price::float8 END AS listunitprice,
       CASE WHEN category = 'Usage' THEN price::float8 END AS contractedunitprice,
       list_cost::float8 AS listcost,
       list_cost::float8 AS contractedcost,
       (CASE WHEN correction IS NOT NULL THEN correction
             WHEN category = 'Purchase' THEN 0
             WHEN committed THEN round(list_cost * 0.72, 10)
             ELSE list_cost END)::float8 AS effectivecost,
       (CASE WHEN correction IS NOT NULL THEN correction
             WHEN committed THEN 0
             ELSE list_cost END)::float8 AS billedcost,
       CASE WHEN committed OR category = 'Purchase'
            THEN format('arn:aws:savingsplans::%%s:savingsplan/%%s', %(payer)s,
                        md5('plan:' || %(payer)s)::uuid) END AS commitmentdiscountid,
       CASE WHEN committed OR category = 'Purchase' THEN 'ComputeSavingsPlans'
            END AS commitmentdiscounttype,
       CASE WHEN committed THEN 'Used' END AS commitmentdiscountstatus,
       CASE WHEN category = 'Usage' AND resource_id IS NOT NULL
            THEN %(tags)s::json -> (tag_i::int) END AS tags,
       CASE WHEN category = 'Purchase' THEN 'ComputeSP:1yrNoUpfront'
            ELSE region_id || '-' || usage_type END AS x_usagetype,
       CASE WHEN category = 'Purchase' THEN '' ELSE operation END AS x_operation
FROM costed
"""

_LATE_CREDITS = """
INSERT INTO {table} ({columns})
SELECT {template_columns}
FROM ({templates}) pick
JOIN {table} t ON t.ctid = pick.row_ctid
CROSS JOIN LATERAL (
    SELECT -((abs(hashtextextended(%(id_prefix)s || pick.i, %(seed)s)) %% 50000000) + 1)
           * 0.000001 AS cost
) c
"""

_CHANGE = """
UPDATE {table} t
SET billedcost = billedcost * pick.factor::float8,
    effectivecost = effectivecost * pick.factor::float8,
    listcost = listcost * pick.factor::float8,
    contractedcost = contractedcost * pick.factor::float8
FROM ({changed}) pick
WHERE t.ctid = pick.row_ctid
"""

# What a late credit sets; every other column is copied from its template row.
_CREDIT_VALUES = {
    "chargecategory": "'Credit'",
    "chargeclass": "'Correction'",
    "chargefrequency": "'One-Time'",
    "chargedescription": "'AWS service credit (late adjustment) for ' || t.servicename",
    "billedcost": "c.cost::float8",
    "effectivecost": "c.cost::float8",
    "listcost": "0::float8",
    "contractedcost": "0::float8",
}
_CREDIT_NULLS = {
    "resourceid", "resourcetype", "pricingcategory", "pricingquantity", "pricingunit",
    "consumedquantity", "consumedunit", "listunitprice", "contractedunitprice",
    "commitmentdiscountid", "commitmentdiscounttype", "commitmentdiscountstatus", "tags",
}  # fmt: skip


def create_source_table(conn: connection, schema: str, table: str) -> None:
    """Create ``schema.table`` with the FOCUS columns (and the schema if needed); commits."""
    source_tables.create_table(conn, schema, table, FOCUS_COLUMNS, (PARTITION_COLUMN,))


def _catalog() -> dict[str, Any]:
    keys = (
        "name", "service_category", "subcategory", "usage_type", "operation", "pricing_unit",
        "consumed_unit", "price", "step", "max_steps", "resource_type", "resource", "committable",
    )  # fmt: skip
    return {
        "services": Json(
            [{"i": i, **dict(zip(keys, s, strict=True))} for i, s in enumerate(_SERVICES)]
        ),
        "service_count": len(_SERVICES),
        "accounts": Json([{"i": i, "id": a, "name": n} for i, (a, n) in enumerate(_ACCOUNTS)]),
        "account_count": len(_ACCOUNTS),
        "regions": Json([{"i": i, "id": r, "name": n} for i, (r, n) in enumerate(_REGIONS)]),
        "region_count": len(_REGIONS),
        "tags": Json(list(_TAGS), dumps=source_tables.compact_json),
        "tag_count": len(_TAGS),
        "payer": _ACCOUNTS[0][0],
        "payer_name": _ACCOUNTS[0][1],
    }


def generate(
    conn: connection,
    schema: str,
    table: str,
    *,
    start: datetime.date,
    days: int,
    rows: int,
    seed: int = 42,
    open_month_from: datetime.date | None = None,
) -> int:
    """Append ``rows`` hourly charges spread evenly over ``days`` days from ``start``; commits.

    Day ``d`` gets rows ``n`` with ``n * days // rows == d``. Charges of a billing period on or
    after ``open_month_from`` have no invoice id yet. Repeating a call with the same arguments
    appends the same rows again. Returns the number of rows inserted.
    """
    source_tables.check_counts(days, rows)
    parameters = _catalog() | {
        "start": start,
        "days": days,
        "rows": rows,
        "open_month_from": open_month_from,
        "id_prefix": f"focus:{seed}:{start.isoformat()}:{days}:{rows}:",
    }
    statement = sql.SQL("INSERT INTO {} ({})").format(
        qualified(schema, table), source_tables.column_list(FOCUS_COLUMNS)
    ) + sql.SQL(_GENERATE)
    with conn, conn.cursor() as cur:
        cur.execute("SET LOCAL jit = off")
        cur.execute(statement, parameters)
        return cur.rowcount


def restate_day(
    conn: connection,
    schema: str,
    table: str,
    day: datetime.date,
    *,
    remove_fraction: float = 0.05,
    change_fraction: float = 0.05,
    late_credits: int = 3,
    seed: int = 7,
) -> dict[str, int]:
    """Re-deliver one day of charges as AWS does when it restates an export; commits.

    Deletes ``remove_fraction`` of the day's rows, adds ``late_credits`` Credit rows (negative
    billed and effective cost) copying the account, service, region and period of remaining rows,
    then multiplies the four costs of ``change_fraction`` of the remaining original rows by a
    factor in 0.80..1.20 (never 1). The day is the day of ``chargeperiodstart``. A day without
    rows stays empty. Returns ``{"removed": n, "changed": n, "added": n}``.
    """
    source_tables.check_fractions(remove_fraction=remove_fraction, change_fraction=change_fraction)
    if late_credits < 0:
        raise ValueError(f"late_credits must not be negative, not {late_credits}")
    target = qualified(schema, table)
    with conn, conn.cursor() as cur:
        started = source_tables.start_redelivery(
            cur, target, PARTITION_COLUMN, day, seed, remove_fraction
        )
        if started is None:
            return {"removed": 0, "changed": 0, "added": 0}
        prefix = f"focus-credit:{seed}:{day.isoformat()}:{started.fingerprint}:"
        credit = sql.SQL(_LATE_CREDITS).format(
            table=target,
            columns=source_tables.column_list(FOCUS_COLUMNS),
            template_columns=sql.SQL(", ").join(_credit_value(name) for name, _ in FOCUS_COLUMNS),
            templates=sql.SQL(source_tables.TEMPLATES),
        )
        cur.execute(credit, {"count": late_credits, "id_prefix": prefix, "seed": seed})
        added = cur.rowcount
        change = sql.SQL(_CHANGE).format(table=target, changed=sql.SQL(source_tables.CHANGED))
        remaining = started.rows - started.removed
        cur.execute(change, {"count": source_tables.share(change_fraction, remaining)})
        changed = cur.rowcount
    return {"removed": started.removed, "changed": changed, "added": added}


def _credit_value(name: str) -> sql.Composable:
    if name in _CREDIT_VALUES:
        return sql.SQL(_CREDIT_VALUES[name])
    if name in _CREDIT_NULLS:
        return sql.SQL("NULL")
    return sql.SQL("t.{}").format(sql.Identifier(name))
