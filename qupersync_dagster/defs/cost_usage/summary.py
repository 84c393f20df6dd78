"""The daily cost summary: cost by usage day, account, service, region, line item type, currency.

It is computed in PostgreSQL from the mirrored line items, so it never reads Redshift, and it is
rebuilt for a day whenever that day of its upstream table is materialised again. Each day's
materialisation records that day's cost, so the asset's metadata plots chart cost per day.
"""

import dagster as dg

from qupersync_dagster.defs.cost_usage.cost_metadata import costs_by_day, day_cost_metadata
from qupersync_dagster.defs.cost_usage.lineage import COLUMN_LINEAGE, TABLE_NAME, summary_lineage
from qupersync_dagster.defs.cost_usage.partitions import daily_partitions, window_of
from qupersync_dagster.defs.resources import PostgresResource
from qupersync_dagster.domain.entities import SummarySpec, TableSpec
from qupersync_dagster.infrastructure.postgres import summary as summary_sql


def build_summary_asset(summary: SummarySpec, line_items: TableSpec) -> dg.AssetsDefinition:
    lineage = summary_lineage(line_items)

    @dg.asset(
        name=summary.name,
        description=(
            f"Daily cost summary of {line_items.name}: unblended, net and on-demand cost, "
            f"usage amount and line count by usage date, account, service, region, line item "
            f"type and currency. Stored in {summary.target}."
        ),
        group_name="cost_usage",
        kinds={"postgres"},
        deps=[dg.AssetKey(line_items.name)],
        partitions_def=daily_partitions(line_items.start_date),
        backfill_policy=dg.BackfillPolicy.single_run(),
        automation_condition=dg.AutomationCondition.eager(),
        metadata={
            "target": str(summary.target),
            TABLE_NAME: str(summary.target),
            COLUMN_LINEAGE: lineage,
        },
    )
    def _summary(
        context: dg.AssetExecutionContext, postgres: PostgresResource
    ) -> dg.MaterializeResult[None]:
        window = window_of(context)
        with postgres.get_guarded() as database:
            rows, costs = summary_sql.rebuild(
                database, summary, line_items, window.start, window.end
            )
        for day, day_costs in costs_by_day(costs, window.days()).items():
            context.add_asset_metadata(day_cost_metadata(day_costs), partition_key=day)
        context.log.info(f"{summary.name}: {rows} summary rows for {window.key}..")
        return dg.MaterializeResult(metadata={COLUMN_LINEAGE: lineage})

    return _summary
