"""What a day of the cost summary shows in Dagster: its cost, its lines, its costliest services.

Each summary day's materialisation carries numbers Dagster can plot across partitions (total
unblended and net cost, line count) as floats, so the asset's metadata plots chart daily cost, and a
small table of the services that cost most that day. Totals are added as exact decimals and shown
as floats only at the end, for the chart; the table keeps the exact text.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

import dagster as dg

from qupersync_dagster.defs.cost_usage.partition_metadata import PARTITION_ROW_COUNT, ROW_COUNT
from qupersync_dagster.domain.entities import ServiceCost

TOP_SERVICES = 5

_SERVICES_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("product_code", "text"),
        dg.TableColumn("unblended_cost", "numeric"),
        dg.TableColumn("net_unblended_cost", "numeric"),
        dg.TableColumn("line_count", "bigint"),
    ]
)


def _sum(values: list[str | None]) -> Decimal:
    return sum((Decimal(v) for v in values if v is not None), Decimal(0))


def _top_services(costs: list[ServiceCost]) -> dg.TableMetadataValue:
    by_service: dict[str | None, list[ServiceCost]] = defaultdict(list)
    for cost in costs:
        by_service[cost.product_code].append(cost)
    totals = [
        (
            service,
            _sum([c.unblended_cost for c in rows]),
            _sum([c.net_unblended_cost for c in rows]),
            sum(c.line_count for c in rows),
        )
        for service, rows in by_service.items()
    ]
    totals.sort(key=lambda t: (-t[1], t[0] or ""))
    return dg.MetadataValue.table(
        records=[
            dg.TableRecord(
                {
                    "product_code": service or "(none)",
                    "unblended_cost": format(unblended, "f"),
                    "net_unblended_cost": format(net, "f"),
                    "line_count": lines,
                }
            )
            for service, unblended, net, lines in totals[:TOP_SERVICES]
        ],
        schema=_SERVICES_SCHEMA,
    )


def day_cost_metadata(costs: list[ServiceCost]) -> dict[str, Any]:
    """One summary day's metadata from its per-service costs (none: the day has no lines)."""
    rows = sum(c.rows for c in costs)
    return {
        ROW_COUNT: rows,
        PARTITION_ROW_COUNT: rows,
        "unblended_cost": float(_sum([c.unblended_cost for c in costs])),
        "net_unblended_cost": float(_sum([c.net_unblended_cost for c in costs])),
        "line_count": sum(c.line_count for c in costs),
        "currencies": ", ".join(sorted({c.currency or "(none)" for c in costs})),
        "top_services": _top_services(costs),
    }


def costs_by_day(costs: list[ServiceCost], days: list[date]) -> dict[str, list[ServiceCost]]:
    """``costs`` grouped by partition key, with every one of ``days`` present."""
    grouped: dict[str, list[ServiceCost]] = {day.isoformat(): [] for day in days}
    for cost in costs:
        grouped[cost.usage_date.isoformat()].append(cost)
    return grouped
