"""What a generated FOCUS row is made of: the catalogs it draws from and the SELECT that draws.

``focus_data`` inserts what ``SELECT`` returns. Every choice of a row (charge category, service,
account, region, quantity, tags) takes bits of two 64-bit hashes of its id, so the rows depend
on the seed, the arguments and the row number only. Costs are computed as exact decimals and
cast to DOUBLE PRECISION once, so the floats are the same on every server.
"""

from __future__ import annotations

from typing import Any

from psycopg2.extras import Json

from qupersync_dagster.devkit.source_tables import compact_json, with_hashed_ids

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
SELECT = with_hashed_ids("""
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
    FROM HASHED_IDS
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
""")


def parameters() -> dict[str, Any]:
    """The catalogs as the parameters ``SELECT`` takes (besides start, days, rows, ids)."""
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
        "tags": Json(list(_TAGS), dumps=compact_json),
        "tag_count": len(_TAGS),
        "payer": _ACCOUNTS[0][0],
        "payer_name": _ACCOUNTS[0][1],
    }
