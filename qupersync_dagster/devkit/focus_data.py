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

from psycopg2 import sql
from psycopg2.extensions import connection

from qupersync_dagster.devkit import focus_rows, source_tables
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
    parameters = focus_rows.parameters() | {
        "start": start,
        "days": days,
        "rows": rows,
        "open_month_from": open_month_from,
        "id_prefix": f"focus:{seed}:{start.isoformat()}:{days}:{rows}:",
    }
    statement = sql.SQL("INSERT INTO {} ({})").format(
        qualified(schema, table), source_tables.column_list(FOCUS_COLUMNS)
    ) + sql.SQL(focus_rows.SELECT)
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
