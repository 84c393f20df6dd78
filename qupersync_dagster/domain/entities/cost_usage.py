"""The cost-usage vocabulary: a CUR line item and the daily summary built from many of them.

The sync itself moves whole rows without interpreting them; these types name the columns the
summary and the reconciliation depend on, so that a renamed CUR column fails in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from qupersync_dagster.domain.entities.table import TableRef, check_identifier


@dataclass(frozen=True)
class CostUsageRecord:
    """The CUR 2.0 line-item columns QuperSync reads by name (a table may carry many more)."""

    identity_line_item_id: str
    identity_time_interval: str
    line_item_usage_account_id: str
    line_item_line_item_type: str
    line_item_usage_start_date: datetime
    line_item_product_code: str
    product_region_code: str | None
    line_item_currency_code: str
    line_item_usage_amount: Decimal | None
    line_item_unblended_cost: Decimal
    line_item_net_unblended_cost: Decimal | None
    pricing_public_on_demand_cost: Decimal | None


SUMMARY_DIMENSIONS: tuple[tuple[str, str], ...] = (
    ("usage_account_id", "line_item_usage_account_id"),
    ("product_code", "line_item_product_code"),
    ("region", "product_region_code"),
    ("line_item_type", "line_item_line_item_type"),
    ("currency", "line_item_currency_code"),
)
"""(summary column, line-item column) pairs the daily summary groups by, after usage_date."""

SUMMARY_MEASURES: tuple[tuple[str, str], ...] = (
    ("unblended_cost", "line_item_unblended_cost"),
    ("net_unblended_cost", "line_item_net_unblended_cost"),
    ("public_on_demand_cost", "pricing_public_on_demand_cost"),
    ("usage_amount", "line_item_usage_amount"),
)
"""(summary column, line-item column) pairs the daily summary sums."""


@dataclass(frozen=True)
class CostUsageSummary:
    """One row of the daily cost summary."""

    usage_date: date
    usage_account_id: str
    product_code: str
    region: str | None
    line_item_type: str
    currency: str
    unblended_cost: Decimal
    net_unblended_cost: Decimal | None
    public_on_demand_cost: Decimal | None
    usage_amount: Decimal | None
    line_count: int


@dataclass(frozen=True)
class SummarySpec:
    """Where the daily summary is built from (a configured line-item table) and written to."""

    from_table: str
    target: TableRef
    name: str = "cost_usage_summary"

    def __post_init__(self) -> None:
        check_identifier(self.from_table, "summary: from_table")
        check_identifier(self.name, "summary: name")
