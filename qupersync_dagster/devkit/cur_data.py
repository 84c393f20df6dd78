"""Realistic, reproducible AWS Cost and Usage Report (CUR 2.0) data, generated inside PostgreSQL.

The demo, the test-suite and the benchmark all need a "Redshift" CUR table to mirror, and none can
use real billing data. This module writes one into a PostgreSQL database (the local Redshift
stand-in) and can then *restate* a day the way AWS re-delivers a CUR, which is exactly what the
sync has to detect: rows that vanish, rows whose costs change, late credits that appear.

Why the data is made in SQL: the benchmark needs millions of rows, and building them as Python
tuples and shipping them over the wire would cost far more than the sync being measured. One
``INSERT ... SELECT FROM generate_series`` makes every row inside the server instead.

Why it is deterministic: tests and benchmarks compare checksums across runs and databases, so every
"random" choice comes from hashing the seed, the arguments and the row number (``md5`` and
``hashtextextended``; both are stable across PostgreSQL versions, and the latter also needs the
same byte order, which every x86-64 and arm64 machine shares). Nothing reads the clock, and all
text conversions use explicit formats, so session settings cannot leak in.

Why the quirks: the sync must survive what real CUR data contains -- negative costs, ten decimal
places, NULL next to empty strings, a month still open (blank invoice id), and now and then a
description with a tab, a newline, a backslash, a double quote, or non-ASCII text -- so a
generator without them would let escaping bugs through.

Why two money types: AWS Data Exports deliver CUR 2.0 as Parquet, and loaded into Redshift its
cost, usage and rate columns are DOUBLE PRECISION and its map columns (``product``,
``resource_tags``) SUPER. That is the default here (``Money.DOUBLE``; ``json`` stands in for
SUPER). Costs are then float products (usage times rate), many of which need 16 or 17
significant digits, and now and then a value that breaks careless float handling replaces one:
``-0``, a subnormal, the smallest normal double. The legacy CUR's ``numeric(30,10)`` columns stay
available as ``Money.NUMERIC``, with exact decimal costs.
"""

from __future__ import annotations

import datetime
import enum
import functools
import json
import math
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from typing import Any, NamedTuple

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import connection, cursor
from psycopg2.extras import Json


class Money(enum.StrEnum):
    """The type of the cost, usage and rate columns."""

    DOUBLE = "double precision"  # CUR 2.0 as AWS Data Exports load it into Redshift
    NUMERIC = "numeric(30,10)"  # exact decimals, as the legacy CUR is often loaded


_MONEY = "money"  # placeholder in the column list below
_CUR_LAYOUT: tuple[tuple[str, str], ...] = (
    ("identity_line_item_id", "varchar(64)"),
    ("identity_time_interval", "varchar(64)"),
    ("bill_invoice_id", "varchar(64)"),
    ("bill_billing_period_start_date", "timestamp"),
    ("bill_billing_period_end_date", "timestamp"),
    ("bill_payer_account_id", "varchar(32)"),
    ("line_item_usage_account_id", "varchar(32)"),
    ("line_item_line_item_type", "varchar(64)"),
    ("line_item_usage_start_date", "timestamp"),
    ("line_item_usage_end_date", "timestamp"),
    ("line_item_product_code", "varchar(128)"),
    ("line_item_usage_type", "varchar(256)"),
    ("line_item_operation", "varchar(256)"),
    ("line_item_resource_id", "varchar(512)"),
    ("line_item_usage_amount", _MONEY),
    ("line_item_unblended_rate", _MONEY),
    ("line_item_unblended_cost", _MONEY),
    ("line_item_blended_cost", _MONEY),
    ("line_item_net_unblended_cost", _MONEY),
    ("line_item_currency_code", "varchar(8)"),
    ("line_item_line_item_description", "varchar(1024)"),
    ("line_item_legal_entity", "varchar(256)"),
    ("pricing_public_on_demand_cost", _MONEY),
    ("pricing_unit", "varchar(64)"),
    ("product", "json"),
    ("product_region_code", "varchar(32)"),
    ("resource_tags", "json"),
    ("updated_at", "timestamp"),
)


def cur_columns(money: Money = Money.DOUBLE) -> tuple[tuple[str, str], ...]:
    """(name, DDL type) of the CUR 2.0 columns, in order, with ``money`` for amounts."""
    return tuple((name, money.value if kind == _MONEY else kind) for name, kind in _CUR_LAYOUT)


CUR_COLUMNS = cur_columns()
PRIMARY_KEY = ("identity_line_item_id", "identity_time_interval")


class _Sku(NamedTuple):
    """One priced product line. Usage amounts are ``step`` times a whole number in 1..max_steps."""

    product_code: str
    usage_type: str  # without the region prefix ("USE1-") that regional SKUs get
    operation: str
    pricing_unit: str
    rate: str  # decimal text, so that it reaches numeric exactly
    step: str
    max_steps: int
    description: str
    # format() template, or None for no resource: %1$s region, %2$s account, %3$s 16 hex digits,
    # %4$s a UUID, %5$s 13 upper-case hex digits.
    resource: str | None
    is_global: bool = False


_HOURS = ("0.0000000001", 10_000_000_000)  # up to one hour, to ten decimal places
_GB = ("0.000001", 50_000_000)  # up to 50 GB, to the kilobyte
_GB_MONTHS = ("0.0000000001", 500_000_000)  # an hour of a few GB stored: up to 0.05 GB-Mo
_REQUESTS = ("1", 2_000_000)

_RDS_ARN = "arn:aws:rds:%1$s:%2$s:db:orders-%3$s"
_EC2_INSTANCE = "i-0%3$s"

# The catalogs below are tables: one entry a row, aligned by hand.
# fmt: off
# Grouped so that every line item type draws its SKUs from one contiguous run of groups.
_SKU_GROUPS: dict[str, tuple[_Sku, ...]] = {
    "rds_instances": (
        _Sku("AmazonRDS", "InstanceUsage:db.r6g.large", "CreateDBInstance:0014", "Hrs",
             "0.2250000000", *_HOURS,
             "USD 0.225 per RDS db.r6g.large instance hour (or partial hour) running PostgreSQL",
             _RDS_ARN),
        _Sku("AmazonRDS", "Multi-AZUsage:db.m6g.xlarge", "CreateDBInstance:0014", "Hrs",
             "0.6400000000", *_HOURS,
             "USD 0.64 per RDS db.m6g.xlarge Multi-AZ instance hour (or partial hour) running "
             "PostgreSQL", _RDS_ARN),
    ),
    "ec2_instances": (
        _Sku("AmazonEC2", "BoxUsage:m5.large", "RunInstances", "Hrs", "0.0960000000", *_HOURS,
             "$0.096 per On Demand Linux m5.large Instance Hour", _EC2_INSTANCE),
        _Sku("AmazonEC2", "BoxUsage:c6i.2xlarge", "RunInstances", "Hrs", "0.3400000000", *_HOURS,
             "$0.34 per On Demand Linux c6i.2xlarge Instance Hour", _EC2_INSTANCE),
        _Sku("AmazonEC2", "BoxUsage:r6g.xlarge", "RunInstances", "Hrs", "0.2016000000", *_HOURS,
             "$0.2016 per On Demand Linux r6g.xlarge Instance Hour", _EC2_INSTANCE),
        _Sku("AmazonEC2", "BoxUsage:t3.micro", "RunInstances:0002", "Hrs", "0.0208000000",
             *_HOURS, "$0.0208 per On Demand Windows t3.micro Instance Hour", _EC2_INSTANCE),
    ),
    "serverless": (
        _Sku("AmazonECS", "Fargate-vCPU-Hours:perCPU", "FargateTask", "hours", "0.0404800000",
             *_HOURS, "AWS Fargate - vCPU - per hour", "arn:aws:ecs:%1$s:%2$s:task/web/%3$s"),
        _Sku("AWSLambda", "Lambda-GB-Second", "Invoke", "Lambda-GB-Second", "0.0000166667",
             "0.001", 3_600_000, "AWS Lambda - Total Compute - $0.0000166667 per GB-second",
             "arn:aws:lambda:%1$s:%2$s:function:ingest-%3$s"),
        _Sku("AWSLambda", "Request", "Invoke", "Requests", "0.0000002000", *_REQUESTS,
             "AWS Lambda - Total Requests - $0.20 per 1M requests",
             "arn:aws:lambda:%1$s:%2$s:function:ingest-%3$s"),
    ),
    "other_usage": (
        _Sku("AmazonEC2", "EBS:VolumeUsage.gp3", "CreateVolume-Gp3", "GB-Mo", "0.0800000000",
             *_GB_MONTHS, "$0.08 per GB-month of General Purpose (gp3) provisioned storage",
             "vol-0%3$s"),
        _Sku("AmazonEC2", "NatGateway-Hours", "NatGateway", "Hrs", "0.0450000000", *_HOURS,
             "$0.045 per NAT Gateway Hour", "arn:aws:ec2:%1$s:%2$s:natgateway/nat-0%3$s"),
        _Sku("AWSDataTransfer", "DataTransfer-Out-Bytes", "RunInstances", "GB", "0.0900000000",
             *_GB, "$0.090 per GB - first 10 TB / month data transfer out beyond the global "
             "free tier", _EC2_INSTANCE),
        _Sku("AmazonS3", "TimedStorage-ByteHrs", "StandardStorage", "GB-Mo", "0.0230000000",
             *_GB_MONTHS, "$0.023 per GB - first 50 TB / month of storage used",
             "analytics-%2$s-%3$s"),
        _Sku("AmazonS3", "Requests-Tier1", "PutObject", "Requests", "0.0000050000", *_REQUESTS,
             "$0.005 per 1,000 PUT, COPY, POST, or LIST requests", "analytics-%2$s-%3$s"),
        _Sku("AmazonS3", "Requests-Tier2", "GetObject", "Requests", "0.0000004000", *_REQUESTS,
             "$0.0004 per 1,000 GET and all other requests", "analytics-%2$s-%3$s"),
        _Sku("AmazonDynamoDB", "TimedStorage-ByteHrs", "StandardStorage", "GB-Mo",
             "0.2500000000", *_GB_MONTHS,
             "$0.25 per GB-month of storage used beyond first 25 free GB-months",
             "arn:aws:dynamodb:%1$s:%2$s:table/events-%3$s"),
        _Sku("AmazonDynamoDB", "ReadRequestUnits", "PayPerRequestThroughput", "ReadRequestUnits",
             "0.0000002500", *_REQUESTS, "$0.25 per million read request units",
             "arn:aws:dynamodb:%1$s:%2$s:table/events-%3$s"),
        _Sku("AmazonCloudWatch", "CW:MetricMonitorUsage", "MetricStorage", "Metrics",
             "0.3000000000", "0.0000000001", 1_000_000_000,
             "$0.30 per metric-month for the first 10,000 metrics", None),
        _Sku("AmazonCloudWatch", "DataProcessing-Bytes", "PutLogEvents", "GB", "0.5000000000",
             *_GB, "$0.50 per GB custom log data ingested",
             "arn:aws:logs:%1$s:%2$s:log-group:/aws/lambda/ingest-%3$s"),
        _Sku("AWSKMS", "KMS-Requests", "GenerateDataKey", "Requests", "0.0000030000",
             *_REQUESTS, "$0.03 per 10,000 requests", "arn:aws:kms:%1$s:%2$s:key/%4$s"),
        _Sku("AmazonCloudFront", "US-DataTransfer-Out-Bytes", "GET", "GB", "0.0850000000", *_GB,
             "$0.085 per GB - first 10 TB / month data transfer out",
             "arn:aws:cloudfront::%2$s:distribution/E%5$s", is_global=True),
        _Sku("AmazonRoute53", "HostedZone", "", "HostedZone", "0.5000000000",
             "0.0000000001", 10_000_000_000, "$0.50 per Hosted Zone for the first 25 Hosted Zones",
             "arn:aws:route53:::hostedzone/Z%5$s", is_global=True),
    ),
    "support": (
        _Sku("AWSSupportBusiness", "Dollar", "", "Dollar", "1.0000000000", "0.01", 2_000,
             "AWS Support (Business)", None, is_global=True),
    ),
    "reservations": (
        _Sku("AmazonEC2", "HeavyUsage:m5.large", "RunInstances", "Hrs", "0.0600000000", *_HOURS,
             "USD 0.06 hourly fee per Linux/UNIX (Amazon VPC), m5.large instance",
             "arn:aws:ec2:%1$s:%2$s:reserved-instances/%4$s"),
        _Sku("AmazonRDS", "HeavyUsage:db.r6g.large", "CreateDBInstance:0014", "Hrs",
             "0.1470000000", *_HOURS,
             "USD 0.147 hourly fee per PostgreSQL, db.r6g.large instance",
             "arn:aws:rds:%1$s:%2$s:ri:reserved-pg-%3$s"),
    ),
    "savings_plans": (
        _Sku("ComputeSavingsPlans", "ComputeSP:1yrNoUpfront", "", "Hrs", "2.5000000000",
             *_HOURS, "1 year No Upfront Compute Savings Plan with 2.5 USD hourly commitment",
             "arn:aws:savingsplans::%2$s:savingsplan/%4$s", is_global=True),
    ),
}
_SKUS = tuple(sku for group in _SKU_GROUPS.values() for sku in group)


def _sku_span(first: str, last: str) -> tuple[int, int]:
    """The (offset, count) in ``_SKUS`` of the groups from ``first`` to ``last`` inclusive."""
    names = list(_SKU_GROUPS)
    offset = sum(len(_SKU_GROUPS[name]) for name in names[: names.index(first)])
    end = sum(len(_SKU_GROUPS[name]) for name in names[: names.index(last) + 1])
    return offset, end - offset


class _LineType(NamedTuple):
    """A line item type: how often it occurs and how its costs derive from the base cost."""

    name: str
    per_mille: int
    skus: tuple[int, int]  # (offset, count) in _SKUS
    adjustment: bool  # Tax, Credit, Refund: no usage type, operation, resource, amount, region
    unblended: str
    blended: str
    net: str
    on_demand: str | None  # None: pricing_public_on_demand_cost is NULL
    # format() templates for the description (%1$s product code, %2$s SKU description); empty:
    # the SKU's own description.
    descriptions: tuple[str, ...] = ()


# A row draws a slot in 0.._SKU_SLOTS-1; its line item type maps the slot onto its own SKUs.
_SKU_SLOTS = 64
_USAGE = _sku_span("rds_instances", "other_usage")
_LINE_TYPES = (
    _LineType("Usage", 780, _USAGE, False, "1", "1", "0.97", "1"),
    _LineType("DiscountedUsage", 50, _sku_span("rds_instances", "ec2_instances"), False,
              "0", "0.62", "0", "1", ("%2$s (reserved instance applied)",)),
    _LineType("SavingsPlanCoveredUsage", 60, _sku_span("ec2_instances", "serverless"), False,
              "1", "1", "0.97", "1"),
    _LineType("Tax", 30, _USAGE, True, "1", "1", "1", "0", ("Tax for product code %1$s",)),
    _LineType("Credit", 25, _USAGE, True, "-1", "-1", "-1", None,
              ("AWS Activate credit applied to %1$s", "Service credit for %1$s (SLA breach)",
               "Promotional credit: %1$s usage")),
    _LineType("Refund", 10, _USAGE, True, "-1", "-1", "-1", None,
              ("Refund for %1$s charges", "Refund: duplicate charge for %1$s")),
    _LineType("Fee", 10, _sku_span("support", "support"), False, "1", "1", "1", "0"),
    _LineType("RIFee", 15, _sku_span("reservations", "reservations"), False,
              "1", "1", "0.97", "0"),
    _LineType("SavingsPlanRecurringFee", 20, _sku_span("savings_plans", "savings_plans"), False,
              "1", "1", "0.97", "0"),
)
# fmt: on

_US_ENTITY = "Amazon Web Services, Inc."
_EU_ENTITY = "Amazon Web Services EMEA SARL"
# (usage account, payer account, currency, legal entity): a USD organisation and a EUR one.
_ACCOUNTS = (
    ("111122223333", "111122223333", "USD", _US_ENTITY),
    ("210987654321", "111122223333", "USD", _US_ENTITY),
    ("305419896123", "111122223333", "USD", _US_ENTITY),
    ("398765432109", "111122223333", "USD", _US_ENTITY),
    ("402938475610", "111122223333", "USD", _US_ENTITY),
    ("512345678901", "111122223333", "USD", _US_ENTITY),
    ("623456789012", "111122223333", "USD", _US_ENTITY),
    ("734567890123", "111122223333", "USD", _US_ENTITY),
    ("444455556666", "444455556666", "EUR", _EU_ENTITY),
    ("845678901234", "444455556666", "EUR", _EU_ENTITY),
)

# (region code, usage type prefix, weight)
_REGIONS = (
    ("us-east-1", "USE1", 40),
    ("us-west-2", "USW2", 15),
    ("eu-west-1", "EUW1", 15),
    ("eu-central-1", "EUC1", 10),
    ("ap-northeast-1", "APN1", 10),
    ("ap-southeast-2", "APS2", 5),
    ("sa-east-1", "SAE1", 5),
)

# About one usage row in 256 has one of these as its base cost (and derived costs) when costs are
# floats: signed zero, subnormals, the smallest normal double, values needing 17 digits.
_FLOAT_EDGES = (
    "-0",
    "1.2345678901234567e-320",
    "2.2250738585072014e-308",
    "2.225073858507201e-308",
    "0.30000000000000004",
    "1.0000000000000002",
    "123456.78901234567",
    "4.9406564584124654e-312",
)

_compact_json = functools.partial(json.dumps, separators=(",", ":"), ensure_ascii=False)

# Each resource carries one of these, or none (one in ten); rows without a resource have none,
# so that about one row in five has no tags. Written compactly, as Redshift's JSON_SERIALIZE
# writes SUPER.
_TAGS = (
    {"user_team": "data", "user_env": "prod"},
    {"user_team": "data", "user_env": "dev"},
    {"user_team": "platform", "user_env": "prod", "user_cost_center": "CC-1042"},
    {"user_team": "web", "user_env": "staging"},
    {"user_team": "ml", "user_env": "prod", "user_project": "recommender"},
    {"aws_cloudformation_stack_name": "orders-api", "user_env": "prod"},
    {"user_owner": "José Núñez", "user_team": "finance"},
    {"user_team": "ops"},
)

# About one row in 500 gets one of these instead of its usual description.
_SPECIAL_DESCRIPTIONS = (
    "Data transfer\tUS East (N. Virginia) to Asia Pacific (東京)",
    "Usage adjustment:\nsee support case 1234567890",
    "Backup copied to C:\\Backups\\nightly\\ (restore tier)",
    'Amazon Bedrock "on-demand" model invocation, tier "standard"',
    "Café crédit — facture € 12,50",
    "Lambda@Edge invocation 🚀 (preview)",
    'Mixed:\ttab, "quote", back\\slash, CR\r\nnewline, 東京 €',
)

_GENERATE = """
WITH
-- MATERIALIZED keeps the per-hour and per-resource work from being inlined into every row; the
-- LIMITs tell the planner how few rows the catalogs hold.
skus AS MATERIALIZED (
    SELECT * FROM jsonb_to_recordset(%(skus)s) AS s(
        i int, product_code text, usage_type text, operation text, pricing_unit text,
        rate numeric, step numeric, max_steps bigint, description text, resource text,
        is_global boolean)
    LIMIT %(sku_count)s
),
accounts AS MATERIALIZED (
    SELECT * FROM jsonb_to_recordset(%(accounts)s) AS a(
        i int, account_id text, payer_account_id text, currency text, legal_entity text)
    LIMIT %(account_count)s
),
regions AS MATERIALIZED (
    SELECT * FROM jsonb_to_recordset(%(regions)s) AS r(code text, prefix text, lo int, hi int)
    LIMIT %(region_count)s
),
-- What a row gets for each (line item type bucket, SKU slot) draw. Adjustments have no usage
-- amount (NULL step) and a base cost of up to 5.0000000000.
choices AS MATERIALIZED (
    SELECT b * %(sku_slots)s + slot AS choice,
           t.name, t.adjustment, t.unblended, t.blended, t.net, t.on_demand,
           s.i AS sku_i, s.product_code,
           CASE WHEN t.adjustment THEN '' ELSE s.operation END AS operation,
           CASE WHEN NOT t.adjustment THEN s.pricing_unit END AS pricing_unit,
           CASE WHEN NOT t.adjustment THEN s.rate END AS rate,
           CASE WHEN NOT t.adjustment THEN s.step END AS step,
           CASE WHEN t.adjustment THEN 50000000000 ELSE s.max_steps END AS max_steps,
           CASE WHEN t.adjustment THEN 0.0000000001 ELSE s.step * s.rate END AS unit_cost,
           CASE WHEN t.adjustment THEN 0.0000000001 ELSE s.step END AS unit,
           CASE WHEN t.adjustment THEN 1 ELSE s.rate END AS price,
           CASE WHEN t.descriptions IS NULL THEN s.description
                ELSE format(t.descriptions[slot %% cardinality(t.descriptions) + 1],
                            s.product_code, s.description)
           END AS description
    FROM jsonb_to_recordset(%(line_types)s) AS t(
        name text, lo int, hi int, sku_lo int, sku_n int, adjustment boolean,
        unblended numeric, blended numeric, net numeric, on_demand numeric,
        descriptions text[])
    CROSS JOIN generate_series(t.lo, t.hi - 1) AS b
    CROSS JOIN generate_series(0, %(sku_slots)s - 1) AS slot
    JOIN skus s ON s.i = t.sku_lo + slot %% t.sku_n
    LIMIT %(type_total)s * %(sku_slots)s
),
-- The same few resources per SKU and account come back day after day, whatever the seed.
resources AS MATERIALIZED (
    SELECT (s.i * %(account_count)s + a.i) * 8 + k AS resource_key,
           CASE WHEN s.is_global THEN '' ELSE r.code END AS region_code,
           CASE WHEN s.is_global THEN s.usage_type ELSE r.prefix || '-' || s.usage_type END
               AS usage_type,
           coalesce(format(s.resource, r.code, a.account_id, left(h.m, 16), h.m::uuid,
                           upper(substr(h.m, 17, 13))), '') AS resource_id,
           ('{{"region":"' || CASE WHEN s.is_global THEN 'global' ELSE r.code END
            || '","servicecode":"' || s.product_code || '","usagetype":"'
            || CASE WHEN s.is_global THEN s.usage_type ELSE r.prefix || '-' || s.usage_type END
            || '"}}')::json AS product,
           CASE WHEN s.resource IS NOT NULL AND ('x' || substr(h.m, 30, 2))::bit(8)::int >= 26
                THEN %(tags)s::json -> (('x' || substr(h.m, 25, 4))::bit(16)::int
                                        %% json_array_length(%(tags)s::json))
           END AS tags
    FROM skus s
    CROSS JOIN accounts a
    CROSS JOIN generate_series(0, 7) AS k
    CROSS JOIN LATERAL (
        SELECT md5(concat_ws(':', 'resource', s.product_code, s.usage_type, a.account_id, k))
            AS m
    ) h
    JOIN regions r
      ON ('x' || substr(h.m, 21, 4))::bit(16)::int %% %(region_total)s BETWEEN r.lo AND r.hi - 1
),
-- Everything that depends on the day, the account and the hour only.
hours AS MATERIALIZED (
    SELECT (d * %(account_count)s + a.i) * 24 + hour AS hour_key,
           a.account_id, a.payer_account_id, a.currency, a.legal_entity,
           day_start + hour * interval '1 hour' AS usage_start,
           day_start + (hour + 1) * interval '1 hour' AS usage_end,
           to_char(day_start, 'YYYY-MM-DD"T00:00:00Z/"')
               || to_char(day_start + interval '1 day', 'YYYY-MM-DD"T00:00:00Z"')
               AS time_interval,
           period_start,
           period_start + interval '1 month' AS period_end,
           CASE WHEN period_start >= %(open_month_from)s THEN ''
                WHEN a.currency = 'EUR' THEN
                    'EUINIE' || to_char(period_start, 'YY') || '-'
                    || lpad((invoice_hash %% 1000000)::text, 6, '0')
                ELSE (1000000000 + invoice_hash %% 9000000000)::text
           END AS invoice_id,
           day_start + interval '1 day 2 hours' + delivery_hash %% 14400 * interval '1 second'
               AS updated_at
    FROM generate_series(0, %(days)s - 1) AS d
    CROSS JOIN LATERAL (
        SELECT %(start)s::timestamp + d * interval '1 day' AS day_start,
               date_trunc('month', %(start)s::timestamp + d * interval '1 day') AS period_start
    ) p
    CROSS JOIN accounts a
    CROSS JOIN LATERAL (
        SELECT ('x' || left(md5('invoice:' || a.payer_account_id || ':'
                                || to_char(period_start, 'YYYY-MM')), 12))::bit(48)::bigint
                   AS invoice_hash,
               ('x' || left(md5('delivery:' || to_char(day_start, 'YYYY-MM-DD')), 8))
                   ::bit(32)::bigint AS delivery_hash
    ) h
    CROSS JOIN generate_series(0, 23) AS hour
),
-- Bits of two 64-bit hashes of the line item id make every per-row choice.
draws AS (
    SELECT m, account_i,
           (n * %(days)s / %(rows)s * %(account_count)s + account_i) * 24
               + ((h1 >> 47) & 255) %% 24 AS hour_key,
           (h1 & 1048575) %% %(type_total)s * %(sku_slots)s
               + ((h1 >> 20) & 65535) %% %(sku_slots)s AS choice,
           (h1 >> 44) & 7 AS k,
           (h2 & 1048575) %% 500 = 0 AS special,
           (h2 & 1048575) / 500 %% %(special_count)s + 1 AS special_i,
           (h2 >> 20) & 1099511627775 AS amount_draw,
           ((h1 >> 55) & 255) = 0 AS edge,
           ((h2 >> 60) & 7) + 1 AS edge_i
    FROM (
        SELECT n, m, h1, h2, ((h1 >> 36) & 255) %% %(account_count)s AS account_i
        FROM (
            SELECT n, m, hashtextextended(m, 1) AS h1, hashtextextended(m, 2) AS h2
            FROM (
                SELECT n, md5(%(id_prefix)s || n) AS m
                FROM generate_series(%(first)s::bigint, %(last)s) AS n
                OFFSET 0
            ) ids
            OFFSET 0
        ) hashed
    ) drawn
),
priced AS (
    SELECT g.m, g.special, g.special_i,
           h.time_interval, h.invoice_id, h.period_start, h.period_end, h.payer_account_id,
           h.account_id, h.usage_start, h.usage_end, h.currency, h.legal_entity, h.updated_at,
           c.name, c.adjustment, c.unblended, c.blended, c.net, c.on_demand, c.product_code,
           c.operation, c.rate, c.pricing_unit, c.description,
           r.usage_type, r.resource_id, r.region_code, r.tags, r.product,
           ((g.amount_draw %% c.max_steps + 1) * c.step)::{money} AS usage_amount,
           {base_cost} AS base_cost
    FROM draws g
    JOIN choices c ON c.choice = g.choice
    JOIN hours h ON h.hour_key = g.hour_key
    JOIN resources r ON r.resource_key = (c.sku_i * %(account_count)s + g.account_i) * 8 + g.k
    OFFSET 0
)
SELECT m AS identity_line_item_id,
       time_interval AS identity_time_interval,
       invoice_id AS bill_invoice_id,
       period_start AS bill_billing_period_start_date,
       period_end AS bill_billing_period_end_date,
       payer_account_id AS bill_payer_account_id,
       account_id AS line_item_usage_account_id,
       name AS line_item_line_item_type,
       usage_start AS line_item_usage_start_date,
       usage_end AS line_item_usage_end_date,
       product_code AS line_item_product_code,
       CASE WHEN adjustment THEN '' ELSE usage_type END AS line_item_usage_type,
       operation AS line_item_operation,
       CASE WHEN adjustment THEN '' ELSE resource_id END AS line_item_resource_id,
       usage_amount AS line_item_usage_amount,
       rate::{money} AS line_item_unblended_rate,
       -- Multiplying by one, or rounding what is already rounded, costs more than the rest of
       -- a column: skip both.
       CASE unblended WHEN 1 THEN base_cost ELSE (base_cost * unblended)::{money} END
           AS line_item_unblended_cost,
       CASE blended WHEN 1 THEN base_cost ELSE (base_cost * blended)::{money} END
           AS line_item_blended_cost,
       CASE net WHEN 1 THEN base_cost ELSE (base_cost * net)::{money} END
           AS line_item_net_unblended_cost,
       currency AS line_item_currency_code,
       CASE WHEN special THEN (%(specials)s::text[])[special_i] ELSE description END
           AS line_item_line_item_description,
       legal_entity AS line_item_legal_entity,
       CASE on_demand WHEN 1 THEN base_cost ELSE (base_cost * on_demand)::{money} END
           AS pricing_public_on_demand_cost,
       pricing_unit,
       product,
       CASE WHEN NOT adjustment THEN region_code END AS product_region_code,
       CASE WHEN NOT adjustment THEN tags END AS resource_tags,
       updated_at
FROM priced
"""

# restate_day works on a list of the day's rows, taken in one scan of the table that also finds
# the newest delivery: their physical addresses (ctid, valid until the rows are updated) and a
# seed-dependent draw per purpose.
_RESTATE_COLLECT = """
CREATE TEMPORARY TABLE cur_restate ON COMMIT DROP AS
SELECT row_ctid, id, time_interval, newest,
       hashtextextended('remove:' || id || '/' || time_interval, %(seed)s) AS remove_draw,
       hashtextextended('change:' || id || '/' || time_interval, %(seed)s) AS change_draw,
       hashtextextended('credit:' || id || '/' || time_interval, %(seed)s) AS credit_draw,
       false AS removed
FROM (
    SELECT max(updated_at) AS newest,
           array_agg(ctid) FILTER (WHERE in_day) AS ctids,
           array_agg(identity_line_item_id) FILTER (WHERE in_day) AS ids,
           array_agg(identity_time_interval) FILTER (WHERE in_day) AS time_intervals
    FROM (
        SELECT ctid, identity_line_item_id, identity_time_interval, updated_at,
               line_item_usage_start_date >= %(day_start)s
               AND line_item_usage_start_date < %(day_end)s AS in_day
        FROM {table}
    ) scan
) whole
CROSS JOIN unnest(ctids, ids, time_intervals) AS day_row(row_ctid, id, time_interval)
"""

_RESTATE_FINGERPRINT = """
SELECT count(*),
       md5(coalesce(string_agg(id || '/' || time_interval, ',' ORDER BY id, time_interval), '')),
       max(newest)
FROM pg_temp.cur_restate
"""

# Draw ties are broken by the key, so every pick is a total order.
_RESTATE_REMOVE = """
WITH picked AS (
    UPDATE pg_temp.cur_restate SET removed = true
    WHERE row_ctid = ANY(ARRAY(
        SELECT row_ctid FROM pg_temp.cur_restate
        ORDER BY remove_draw, id, time_interval
        LIMIT %(count)s))
    RETURNING row_ctid
)
DELETE FROM {table} WHERE ctid = ANY(ARRAY(SELECT row_ctid FROM picked))
"""

# Late credits copy the account, product, period and invoice of remaining rows of the day.
_RESTATE_ADD_CREDITS = """
INSERT INTO {table} ({columns})
SELECT md5(%(id_prefix)s || i), identity_time_interval, bill_invoice_id,
       bill_billing_period_start_date, bill_billing_period_end_date, bill_payer_account_id,
       line_item_usage_account_id, 'Credit', line_item_usage_start_date,
       line_item_usage_end_date, line_item_product_code, '', '', '', NULL, NULL,
       cost, cost, cost, line_item_currency_code,
       'AWS service credit (late adjustment) for ' || line_item_product_code,
       line_item_legal_entity, NULL, NULL, product, NULL, NULL, %(delivered_at)s
FROM generate_series(0, %(count)s - 1) AS i
JOIN (
    SELECT t.*, rank, count(*) OVER () AS templates
    FROM unnest(ARRAY(
        SELECT row_ctid FROM pg_temp.cur_restate WHERE NOT removed
        ORDER BY credit_draw, id, time_interval
        LIMIT %(count)s)) WITH ORDINALITY AS pick(row_ctid, rank)
    JOIN {table} t ON t.ctid = pick.row_ctid
) template ON template.rank = i %% template.templates + 1
CROSS JOIN LATERAL (
    SELECT -((abs(hashtextextended(%(id_prefix)s || i, %(seed)s)) %% 250000000000) + 1)
           * 0.0000000001 AS cost
) c
"""

# Factors 0.80..0.99 and 1.01..1.20: never 1, so a multiplied non-zero cost always changes.
_RESTATE_CHANGE = """
UPDATE {table} t
SET line_item_unblended_cost = line_item_unblended_cost * pick.factor,
    line_item_blended_cost = line_item_blended_cost * pick.factor,
    line_item_net_unblended_cost = line_item_net_unblended_cost * pick.factor,
    pricing_public_on_demand_cost = pricing_public_on_demand_cost * pick.factor,
    updated_at = %(delivered_at)s
FROM (
    SELECT row_ctid,
           CASE WHEN abs(change_draw %% 40) < 20 THEN 0.80 + abs(change_draw %% 40) * 0.01
                ELSE 0.81 + abs(change_draw %% 40) * 0.01
           END AS factor
    FROM pg_temp.cur_restate
    WHERE NOT removed
    ORDER BY change_draw, id, time_interval
    LIMIT %(count)s
) pick
WHERE t.ctid = pick.row_ctid
"""

# How a row's base cost is made: exactly in decimals, or as a float product (usage times rate)
# with an edge value now and then.
_BASE_COST = {
    Money.NUMERIC: "((g.amount_draw %% c.max_steps + 1) * c.unit_cost)::numeric(30, 10)",
    Money.DOUBLE: """CASE WHEN g.edge AND NOT c.adjustment
                THEN (%(float_edges)s::text[])[g.edge_i]::double precision
                ELSE ((g.amount_draw %% c.max_steps + 1) * c.unit)::double precision
                     * c.price::double precision
           END""",
}

_MONEY_TYPE = """
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = %s::regclass AND attname = 'line_item_unblended_cost'
"""

_GENERATE_SETTINGS = (
    "SET LOCAL enable_mergejoin = off",
    "SET LOCAL enable_nestloop = off",
    "SET LOCAL work_mem = '64MB'",
    "SET LOCAL jit = off",
)

# Below this many rows per connection, opening another costs more than it saves.
_MIN_ROWS_PER_WORKER = 25_000

_JSON_SERIALIZE_SHIM = """
CREATE OR REPLACE FUNCTION public.json_serialize(json) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS 'SELECT $1::text'
"""


def _qualified(schema: str, table: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))


def _column_list() -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(name) for name, _ in CUR_COLUMNS)


def _one(cur: cursor) -> tuple[Any, ...]:
    """The one row an aggregate query returns."""
    row = cur.fetchone()
    if row is None:
        raise RuntimeError("an aggregate query returned no row")
    return row


def _money(conn: connection, schema: str, table: str) -> Money:
    """The money type of an existing CUR table."""
    with conn, conn.cursor() as cur:
        cur.execute(_MONEY_TYPE, (_qualified(schema, table).as_string(conn),))
        (found,) = _one(cur)
    return Money(found)


def install_redshift_shims(conn: connection) -> None:
    """Make the Redshift SQL that QuperSync sends work on this PostgreSQL; idempotent; commits.

    Redshift turns SUPER into text with ``JSON_SERIALIZE(super)``. The stand-in for SUPER here
    is ``json``: PostgreSQL 17 and later parse ``JSON_SERIALIZE(json)`` as SQL/JSON grammar and
    return the JSON text, as Redshift does (for ``jsonb`` input they return its binary form, which
    is why the stand-in is not ``jsonb``). Older servers need ``public.json_serialize(json)``;
    newer ones get it too, harmlessly, since the grammar never calls it.
    """
    with conn, conn.cursor() as cur:
        cur.execute(_JSON_SERIALIZE_SHIM)


def create_source_table(
    conn: connection, schema: str, table: str, *, money: Money = Money.DOUBLE
) -> None:
    """Create ``schema.table`` with the CUR 2.0 columns (and the schema if needed); commits.

    The key columns are NOT NULL but there is no PRIMARY KEY: Redshift does not enforce one,
    and the sync must not rely on the source having one. ``money`` is the type of the cost, usage
    and rate columns; ``generate`` follows the table's. Also installs the Redshift shims.
    """
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}{}").format(
            sql.Identifier(name),
            sql.SQL(ddl_type),
            sql.SQL(" NOT NULL" if name in PRIMARY_KEY else ""),
        )
        for name, ddl_type in cur_columns(money)
    )
    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        cur.execute(sql.SQL("CREATE TABLE {} ({})").format(_qualified(schema, table), columns))
    install_redshift_shims(conn)


def _catalog_parameters() -> dict[str, Any]:
    # As few buckets as the weights allow: the fewer (bucket, SKU slot) choices, the smaller the
    # hash table every row probes.
    divisor = math.gcd(*(line_type.per_mille for line_type in _LINE_TYPES))
    line_types = []
    bucket = 0
    for line_type in _LINE_TYPES:
        line_types.append(
            {
                "name": line_type.name,
                "lo": bucket,
                "hi": bucket + line_type.per_mille // divisor,
                "sku_lo": line_type.skus[0],
                "sku_n": line_type.skus[1],
                "adjustment": line_type.adjustment,
                "unblended": line_type.unblended,
                "blended": line_type.blended,
                "net": line_type.net,
                "on_demand": line_type.on_demand,
                "descriptions": list(line_type.descriptions) or None,
            }
        )
        bucket += line_type.per_mille // divisor
    regions = []
    weight = 0
    for code, prefix, share in _REGIONS:
        regions.append({"code": code, "prefix": prefix, "lo": weight, "hi": weight + share})
        weight += share
    return {
        "sku_count": len(_SKUS),
        "skus": Json([{"i": i, **sku._asdict()} for i, sku in enumerate(_SKUS)]),
        "line_types": Json(line_types),
        "type_total": bucket,
        "sku_slots": _SKU_SLOTS,
        "accounts": Json(
            [
                {
                    "i": i,
                    "account_id": account_id,
                    "payer_account_id": payer,
                    "currency": currency,
                    "legal_entity": entity,
                }
                for i, (account_id, payer, currency, entity) in enumerate(_ACCOUNTS)
            ]
        ),
        "account_count": len(_ACCOUNTS),
        "regions": Json(regions),
        "region_count": len(_REGIONS),
        "region_total": weight,
        "tags": Json(list(_TAGS), dumps=_compact_json),
        "specials": list(_SPECIAL_DESCRIPTIONS),
        "special_count": len(_SPECIAL_DESCRIPTIONS),
        "float_edges": list(_FLOAT_EDGES),
    }


def _sibling(conn: connection) -> connection:
    """Another connection to the same database, as the same user."""
    parameters: dict[str, Any] = dict(conn.get_dsn_parameters())
    if conn.info.password:
        parameters["password"] = conn.info.password
    return psycopg2.connect(**parameters)


def _insert(conn: connection, statement: sql.Composable, parameters: dict[str, Any]) -> int:
    with conn, conn.cursor() as cur:
        # Every row probes the small catalogs: hash joins, in memory, are the plan. Left to
        # itself the planner misjudges the hashed-expression keys and sorts millions of rows for
        # merge joins, or spills on the default work_mem. JIT compiling a one-off query costs
        # more than it saves.
        for setting in _GENERATE_SETTINGS:
            cur.execute(setting)
        cur.execute(statement, parameters)
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
    open_month_from: datetime.date | None = None,
    workers: int = 2,
) -> int:
    """Append ``rows`` line items spread evenly over ``days`` days from ``start``; commits.

    Day ``d`` gets rows ``n`` with ``n * days // rows == d``, so the days differ by at most one
    row. Rows whose billing period starts on or after ``open_month_from`` have an empty invoice
    id, as in a month AWS has not closed yet. Line item ids hash the seed, all the arguments and
    the row number, so calls that differ in any of them never share a key; repeating a call with
    the very same arguments appends the very same rows again (duplicate keys).

    One INSERT keeps one server core busy, so large batches are split by row number among
    ``workers`` connections -- ``conn`` and siblings opened with its parameters -- that insert
    and commit their shares concurrently; the rows do not depend on the split. If one share
    fails, the others may already be committed. The table must be committed before the call.

    Returns the number of rows inserted.
    """
    if days < 1:
        raise ValueError(f"days must be at least 1, not {days}")
    if rows < 0:
        raise ValueError(f"rows must not be negative, not {rows}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    money = _money(conn, schema, table)
    parameters = _catalog_parameters() | {
        "start": start,
        "days": days,
        "rows": rows,
        "open_month_from": open_month_from,
        "id_prefix": f"cur:{seed}:{start.isoformat()}:{days}:{rows}:",
    }
    statement = sql.SQL("INSERT INTO {} ({})").format(
        _qualified(schema, table), _column_list()
    ) + sql.SQL(_GENERATE).format(money=sql.SQL(money.value), base_cost=sql.SQL(_BASE_COST[money]))
    shares = max(1, min(workers, rows // _MIN_ROWS_PER_WORKER))
    bounds = [rows * i // shares for i in range(shares + 1)]
    siblings = [_sibling(conn) for _ in range(shares - 1)]
    try:
        with ThreadPoolExecutor(max_workers=shares) as pool:
            inserted = [
                pool.submit(_insert, share, statement, parameters | {"first": lo, "last": hi - 1})
                for share, (lo, hi) in zip([conn, *siblings], pairwise(bounds), strict=True)
            ]
            return sum(future.result() for future in inserted)
    finally:
        for sibling in siblings:
            sibling.close()


def _share(fraction: float, count: int) -> int:
    """``fraction`` of ``count``, rounded half up."""
    return int(fraction * count + 0.5)


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
    """Re-deliver one day of usage as AWS does when it restates a CUR; one transaction, commits.

    Deletes ``remove_fraction`` of the day's rows, then adds ``late_credits`` Credit rows with
    negative costs, each copying the account, product, billing period and invoice id of a
    remaining row of that day, then multiplies the unblended, blended, net and public on-demand
    costs of ``change_fraction`` of the remaining original rows by a factor in 0.80..1.20 (never
    1). Changed and added rows get ``updated_at`` one hour past the newest in the table, as a
    fresh delivery would. The day is the day of ``line_item_usage_start_date``.

    Which rows are picked depends on the seed and the day's contents only, and the late credits'
    ids hash the seed, the day and those contents, so repeated restatements never reuse a key.
    A day without rows stays empty.

    Returns ``{"removed": n, "changed": n, "added": n}``.
    """
    fractions = {"remove_fraction": remove_fraction, "change_fraction": change_fraction}
    for name, fraction in fractions.items():
        if not 0 <= fraction <= 1:
            raise ValueError(f"{name} must lie between 0 and 1, not {fraction}")
    if late_credits < 0:
        raise ValueError(f"late_credits must not be negative, not {late_credits}")
    day_start = datetime.datetime.combine(day, datetime.time())
    target = _qualified(schema, table)
    parameters: dict[str, Any] = {
        "day_start": day_start,
        "day_end": day_start + datetime.timedelta(days=1),
        "seed": seed,
    }
    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL(_RESTATE_COLLECT).format(table=target), parameters)
        cur.execute("ANALYZE pg_temp.cur_restate")
        cur.execute(_RESTATE_FINGERPRINT)
        day_rows, fingerprint, newest = _one(cur)
        if day_rows == 0:
            return {"removed": 0, "changed": 0, "added": 0}
        parameters["delivered_at"] = newest + datetime.timedelta(hours=1)

        cur.execute(
            sql.SQL(_RESTATE_REMOVE).format(table=target),
            {"count": _share(remove_fraction, day_rows)},
        )
        removed = cur.rowcount
        cur.execute(
            sql.SQL(_RESTATE_ADD_CREDITS).format(table=target, columns=_column_list()),
            parameters
            | {
                "count": late_credits,
                "id_prefix": f"late-credit:{seed}:{day.isoformat()}:{fingerprint}:",
            },
        )
        added = cur.rowcount
        cur.execute(
            sql.SQL(_RESTATE_CHANGE).format(table=target),
            parameters | {"count": _share(change_fraction, day_rows - removed)},
        )
        changed = cur.rowcount
    return {"removed": removed, "changed": changed, "added": added}
