"""One software-defined asset per configured cost-usage table.

A run materialises a range of daily partitions (one day from the UI, many in a single-run
backfill) and syncs it day by day, so memory stays bounded whatever the range. Pre-flight schema
validation runs first as the blocking ``schema_matches`` check: a drifted table fails before
anything is written.
"""

import json
import time

import dagster as dg
from tabulate import tabulate

from qupersync_dagster.defs.cost_usage.partitions import daily_partitions, window_of
from qupersync_dagster.defs.resources import PostgresResource, RedshiftResource, open_sync_service
from qupersync_dagster.domain.entities import PartitionOutcome, SyncResult, TableSchema, TableSpec
from qupersync_dagster.domain.errors import QuperSyncError

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


def _as_failure(error: QuperSyncError) -> dg.Failure:
    return dg.Failure(description=str(error), allow_retries=error.retryable)


def _sync_metadata(results: list[SyncResult], seconds: float) -> dict:
    synced = [r for r in results if r.outcome is PartitionOutcome.SYNCED]
    extracted = sum(r.rows_extracted for r in synced)
    fingerprints = {
        r.partition: {
            "row_count": r.fingerprint.row_count,
            "measure_sum": r.fingerprint.measure_sum,
            "max_watermark": r.fingerprint.max_watermark,
        }
        for r in results
        if r.fingerprint is not None
    }
    return {
        "rows_extracted": extracted,
        "rows_inserted": sum(r.counts.inserted for r in synced),
        "rows_updated": sum(r.counts.updated for r in synced),
        "rows_deleted": sum(r.counts.deleted for r in synced),
        "duplicate_keys_dropped": sum(r.counts.duplicates_dropped for r in synced),
        "partitions_synced": len(synced),
        "partitions_unchanged": len(results) - len(synced),
        "partitions_waited_for_lock": sum(r.waited_for_lock for r in results),
        "duration_s": round(seconds, 3),
        "rows_per_second": round(extracted / seconds, 1) if seconds > 0 else 0.0,
        "watermark": results[-1].watermark if results else None,
        "fingerprints": dg.MetadataValue.json(fingerprints),
    }


def build_cost_usage_asset(spec: TableSpec) -> dg.AssetsDefinition:
    @dg.asset(
        name=spec.name,
        description=spec.description or f"{spec.source} mirrored into {spec.target}.",
        group_name="cost_usage",
        kinds={"redshift", "postgres"},
        owners=list(spec.owners) or None,
        tags=spec.tags or None,
        metadata={
            "source": str(spec.source),
            "target": str(spec.target),
            "mode": spec.mode.value,
            "partition_column": spec.partition_column,
            "primary_key": ", ".join(spec.primary_key) or "(none)",
        },
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
        try:
            with (
                open_sync_service(redshift, postgres) as service,
                postgres.get_read_model() as mirror,
            ):
                source_schema, plan = service.check_schema(spec)
                yield dg.AssetCheckResult(
                    check_name=SCHEMA_CHECK,
                    passed=plan.ok,
                    metadata={
                        "differences": dg.MetadataValue.json(plan.differences),
                        "changes_applied": dg.MetadataValue.json(plan.changes),
                    },
                )
                service.apply_plan(spec, source_schema, plan)
                results = service.sync(
                    spec,
                    window.start,
                    window.end,
                    force=config.force,
                    schema=source_schema,
                    on_result=lambda r: context.log.info(
                        f"{spec.name} {r.partition}: {r.outcome.value}, "
                        f"{r.rows_extracted} rows extracted"
                    ),
                )
                seconds = time.perf_counter() - started
                target_schema = mirror.describe(spec)
                counts = mirror.fingerprints(spec, window.start, window.end)
                columns, rows = mirror.preview(spec, window.start, window.end, PREVIEW_ROWS)
        except QuperSyncError as error:
            # Whether another attempt can help is the error's to say, not the retry policy's.
            raise _as_failure(error) from None
        metadata = _sync_metadata(results, seconds)
        metadata["dagster/row_count"] = sum(fp.row_count for fp in counts.values())
        metadata["dagster/column_schema"] = dagster_column_schema(target_schema)
        # tabulate, not pandas (a second or more of imports in every run worker); values as the
        # target holds them, not reformatted as numbers.
        preview = tabulate(rows, headers=columns, tablefmt="pipe", disable_numparse=True)
        metadata["preview"] = dg.MetadataValue.md(preview)
        context.log.info(f"{spec.name}: {json.dumps({k: metadata[k] for k in _SUMMARY_KEYS})}")
        yield dg.MaterializeResult(metadata=metadata)

    return _asset


_SUMMARY_KEYS = ("partitions_synced", "partitions_unchanged", "rows_extracted", "duration_s")
