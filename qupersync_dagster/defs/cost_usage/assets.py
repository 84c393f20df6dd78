"""One software-defined asset per configured cost-usage table.

A run materialises a range of daily partitions (one day from the UI, many in a single-run
backfill) and syncs it day by day, so memory stays bounded whatever the range. Pre-flight schema
validation runs first as the blocking ``schema_matches`` check: a drifted table fails before
anything is written.
"""

import json
import time
from datetime import date, timedelta

import dagster as dg

from qupersync_dagster.defs.cost_usage import run_facts
from qupersync_dagster.defs.cost_usage.failures import as_dagster_failure
from qupersync_dagster.defs.cost_usage.lineage import (
    COLUMN_LINEAGE,
    TABLE_NAME,
    mirror_lineage,
    source_key,
)
from qupersync_dagster.defs.cost_usage.partition_metadata import (
    day_metadata,
    preview_markdown,
    range_totals,
)
from qupersync_dagster.defs.cost_usage.partitions import daily_partitions, window_of
from qupersync_dagster.defs.cost_usage.progress import Progress
from qupersync_dagster.defs.resources import PostgresResource, RedshiftResource, open_sync_service
from qupersync_dagster.domain.entities import (
    PartitionOutcome,
    PartitionWindow,
    SourceFingerprint,
    SyncResult,
    TableSchema,
    TableSpec,
)
from qupersync_dagster.domain.repositories import TargetReadModel

SCHEMA_CHECK = "schema_matches"
PREVIEW_ROWS = 10

# Transient failures (a cut connection, a timeout) are retried with backoff; errors that
# another attempt cannot fix are raised with allow_retries=False.
RETRY_POLICY = dg.RetryPolicy(
    max_retries=3, delay=10, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


class SyncConfig(dg.Config):
    force: bool = False
    """Re-sync partitions even when their source fingerprint is unchanged."""


def dagster_column_schema(schema: TableSchema) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=column.name,
                type=str(column.type),
                constraints=dg.TableColumnConstraints(nullable=column.nullable),
            )
            for column in schema.columns
        ]
    )


def build_cost_usage_asset(spec: TableSpec) -> dg.AssetsDefinition:
    @dg.asset(
        name=spec.name,
        description=spec.description or f"{spec.source} mirrored into {spec.target}.",
        group_name="cost_usage",
        kinds={"postgres"},
        deps=[source_key(spec)],
        owners=list(spec.owners) or None,
        tags=spec.tags or None,
        metadata={
            "source": str(spec.source),
            "target": str(spec.target),
            "mode": spec.mode.value,
            "partition_column": spec.partition_column,
            "primary_key": ", ".join(spec.primary_key) or "(none)",
            TABLE_NAME: str(spec.target),
        },
        freshness_policy=freshness_policy(spec),
        partitions_def=daily_partitions(spec.start_date),
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool="redshift",
        retry_policy=RETRY_POLICY,
        check_specs=[
            dg.AssetCheckSpec(
                SCHEMA_CHECK,
                asset=spec.name,
                blocking=True,
                description="Source rows fit the target table (pre-flight, before any write).",
            )
        ],
    )
    def _asset(
        context: dg.AssetExecutionContext,
        config: SyncConfig,
        redshift: RedshiftResource,
        postgres: PostgresResource,
    ):
        window = window_of(context)
        started = time.perf_counter()
        with as_dagster_failure():
            # The sync's own time is the engine's, as the engine benchmark times it: from
            # opening the service (the target's state table) through pre-flight, the source's
            # fingerprints and every day's commit; not the time Dagster takes to store the
            # schema check's result while the asset waits at ``yield``.
            with open_sync_service(redshift, postgres) as service:
                source_schema, plan = service.check_schema(spec)
                paused = time.perf_counter()
                yield dg.AssetCheckResult(
                    check_name=SCHEMA_CHECK,
                    passed=plan.ok,
                    metadata={
                        "differences": dg.MetadataValue.json(plan.differences),
                        "changes_applied": dg.MetadataValue.json(plan.changes),
                    },
                )
                resumed = time.perf_counter()
                service.apply_plan(spec, source_schema, plan)
                progress = Progress(spec.name, context.log.info)
                try:
                    results = service.sync(
                        spec,
                        window.start,
                        window.end,
                        force=config.force,
                        schema=source_schema,
                        on_result=progress,
                    )
                finally:
                    progress.flush()
                sync_seconds = time.perf_counter() - started - (resumed - paused)
            with postgres.get_read_model() as mirror:
                target_schema = mirror.describe(spec)
                mirrored = mirrored_fingerprints(mirror, spec, results)
                run_facts.keep(context.run.run_id, spec.name, window, results, mirrored)
                synced = [
                    date.fromisoformat(r.partition)
                    for r in results
                    if r.outcome is PartitionOutcome.SYNCED
                ]
                previews = {
                    day.isoformat(): preview_markdown(*rows)
                    for day, rows in mirror.previews(spec, synced, PREVIEW_ROWS).items()
                }
        for result in results:
            day = date.fromisoformat(result.partition)
            context.add_asset_metadata(
                day_metadata(result, mirrored.get(day), previews.get(result.partition)),
                partition_key=result.partition,
            )
        totals = range_totals(results, sync_seconds, time.perf_counter() - started)
        context.log.info(f"{spec.name}: {json.dumps(totals)}")
        # The same for every day of the range, so stated once for all of them. The target
        # exists after a sync (pre-flight creates it); describing nothing states nothing.
        yield dg.MaterializeResult(
            metadata={
                "dagster/column_schema": dagster_column_schema(target_schema),
                COLUMN_LINEAGE: mirror_lineage(spec, target_schema),
            }
            if target_schema is not None
            else {}
        )

    return _asset


def mirrored_fingerprints(
    mirror: TargetReadModel, spec: TableSpec, results: list[SyncResult]
) -> dict[date, SourceFingerprint]:
    """The target's fingerprint of every day of the run that has rows, after the sync.

    A day the sync rewrote brings its own, taken in its transaction as it committed; only the
    days it left alone are read from the table (one query per run of consecutive days), so a
    run that rewrote every day reads none back.
    """
    found = {
        date.fromisoformat(r.partition): r.mirrored
        for r in results
        if r.mirrored is not None and r.mirrored.row_count > 0
    }
    unread = [date.fromisoformat(r.partition) for r in results if r.mirrored is None]
    for window in PartitionWindow.covering(unread):
        found |= mirror.fingerprints(spec, window.start, window.end)
    return found


def freshness_policy(spec: TableSpec) -> dg.FreshnessPolicy:
    """Dagster's own view: the table materialised within its lag plus one daily schedule.

    It watches when any day last materialised; the ``freshness`` check watches which day last
    brought rows, which a sync that ran but found nothing new cannot satisfy.
    """
    return dg.FreshnessPolicy.time_window(fail_window=timedelta(days=spec.freshness_lag_days + 1))
