"""The cost-usage vocabulary: the CUR line-item columns the daily summary is built from.

The sync itself moves whole rows without interpreting them; these names are the only CUR columns
QuperSync reads by name, so that a renamed CUR column fails in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from qupersync_dagster.domain.entities.table import TableRef, check_identifier

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
class SummarySpec:
    """Where the daily summary is built from (a configured line-item table) and written to."""

    from_table: str
    target: TableRef
    name: str = "cost_usage_summary"

    def __post_init__(self) -> None:
        check_identifier(self.from_table, "summary: from_table")
        check_identifier(self.name, "summary: name")


@dataclass(frozen=True)
class ServiceCost:
    """One day's cost of one service in one currency, read back from the daily summary.

    Sums are exact decimal text, as the summary stores them; ``rows`` counts the summary rows
    (accounts, regions, line item types) they add up.
    """

    usage_date: date
    currency: str | None
    product_code: str | None
    unblended_cost: str | None
    net_unblended_cost: str | None
    line_count: int
    rows: int
