"""The daily cost summary: cost by usage day, account, service, region, line item type, currency.

It is computed in PostgreSQL from the mirrored line items, so it never reads Redshift, and it is
rebuilt for a day whenever that day of its upstream table is materialised again.
"""

import dagster as dg

from qupersync_dagster.defs.cost_usage.partitions import daily_partitions, window_of
from qupersync_dagster.defs.resources import PostgresResource
from qupersync_dagster.domain.entities import SummarySpec, TableSpec
from qupersync_dagster.infrastructure.postgres import summary as summary_sql


def build_summary_asset(summary: SummarySpec, line_items: TableSpec) -> dg.AssetsDefinition:
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
        metadata={"target": str(summary.target)},
    )
    def _summary(context: dg.AssetExecutionContext, postgres: PostgresResource):
        window = window_of(context)
        with postgres.get_guarded() as database:
            rows = summary_sql.rebuild(database, summary, line_items, window.start, window.end)
        context.log.info(f"{summary.name}: {rows} summary rows for {window.key}..")
        return dg.MaterializeResult(metadata={"dagster/row_count": rows})

    return _summary
