"""Asset checks that prove a mirrored table can be trusted after a sync, not just that it ran.

A sync that reports success can still leave the mirror wrong: rows edited or loaded by hand in
PostgreSQL, a primary key constraint dropped on a pre-existing table, a schedule that stopped
bringing new days. Each check answers one of those questions from live data and shows both sides
in its metadata, so a failure says which day is off and by how much.
"""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import dagster as dg

from qupersync_dagster.defs.cost_usage import run_facts
from qupersync_dagster.defs.cost_usage.assets import RETRY_POLICY
from qupersync_dagster.defs.cost_usage.failures import as_dagster_failure
from qupersync_dagster.defs.cost_usage.partitions import daily_partitions, window_of
from qupersync_dagster.defs.resources import PostgresResource, RedshiftResource
from qupersync_dagster.domain.entities import KeyViolations, SourceFingerprint, TableSpec

RECONCILED_CHECK = "reconciled_with_source"
PRIMARY_KEY_CHECK = "primary_key_unique_not_null"
FRESHNESS_CHECK = "freshness"


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _text(value: Decimal | None) -> str | None:
    """Fixed-point text: ``0.0000000001``, not ``1E-10``."""
    return None if value is None else format(value, "f")


def _compare_days(
    source: dict[date, SourceFingerprint], target: dict[date, SourceFingerprint]
) -> dict[str, dict]:
    """Both sides of every day that has rows on either, with differences (target - source).

    Sums are compared as decimals, so ``12.50`` equals ``12.5`` and nothing is rounded.
    """
    days = {}
    for day in sorted(source.keys() | target.keys()):
        ours, theirs = source.get(day), target.get(day)
        source_rows = ours.row_count if ours else 0
        target_rows = theirs.row_count if theirs else 0
        source_sum = _decimal(ours.measure_sum if ours else None)
        target_sum = _decimal(theirs.measure_sum if theirs else None)
        days[day.isoformat()] = {
            "source_rows": source_rows,
            "target_rows": target_rows,
            "row_difference": target_rows - source_rows,
            "source_sum": _text(source_sum),
            "target_sum": _text(target_sum),
            "sum_difference": _text((target_sum or Decimal(0)) - (source_sum or Decimal(0))),
            "matches": source_rows == target_rows and source_sum == target_sum,
        }
    return days


def _reconciled_check(
    spec: TableSpec, partitions: dg.PartitionsDefinition
) -> dg.AssetChecksDefinition:
    measure = spec.measure_column or "(no measure_column: row counts only)"

    @dg.asset_check(
        asset=spec.name,
        name=RECONCILED_CHECK,
        description=(
            f"Per day of the run's partitions, the target's row count and sum of {measure} "
            f"equal the source's exactly."
        ),
        partitions_def=partitions,
        pool="redshift",
        retry_policy=RETRY_POLICY,
    )
    def _check(
        context: dg.AssetCheckExecutionContext,
        redshift: RedshiftResource,
        postgres: PostgresResource,
    ) -> dg.AssetCheckResult:
        window = window_of(context)
        synced = run_facts.take(context.run.run_id, spec.name, window)
        if synced is not None:
            found, mirrored = synced.source, synced.target
        else:
            with as_dagster_failure():
                with redshift.get_repository() as source:
                    schema = source.describe(spec.source)
                    found = source.fingerprints(spec, schema, window.start, window.end)
                with postgres.get_read_model() as mirror:
                    mirrored = (
                        mirror.fingerprints(spec, window.start, window.end)
                        if mirror.describe(spec) is not None
                        else {}
                    )
        days = _compare_days(found, mirrored)
        mismatched = [day for day, sides in days.items() if not sides["matches"]]
        return dg.AssetCheckResult(
            passed=not mismatched,
            severity=dg.AssetCheckSeverity.ERROR,
            description=(
                f"{len(mismatched)} day(s) differ from the source: {', '.join(mismatched)}"
                if mismatched
                else f"{window.start}..{window.end - timedelta(days=1)} match the source"
            ),
            metadata={
                "window": f"[{window.start}, {window.end})",
                "fingerprints_read_by": "this run's sync" if synced is not None else "this check",
                "source_rows": sum(fp.row_count for fp in found.values()),
                "target_rows": sum(fp.row_count for fp in mirrored.values()),
                "mismatched_days": dg.MetadataValue.json(mismatched),
                "days": dg.MetadataValue.json(days),
            },
        )

    return _check


def _primary_key_check(
    spec: TableSpec, partitions: dg.PartitionsDefinition
) -> dg.AssetChecksDefinition:
    key = ", ".join(spec.primary_key)

    @dg.asset_check(
        asset=spec.name,
        name=PRIMARY_KEY_CHECK,
        description=f"No NULL and no duplicate ({key}) among the target rows of the partitions.",
        partitions_def=partitions,
        retry_policy=RETRY_POLICY,
    )
    def _check(
        context: dg.AssetCheckExecutionContext, postgres: PostgresResource
    ) -> dg.AssetCheckResult:
        window = window_of(context)
        synced = run_facts.take(context.run.run_id, spec.name, window)
        with as_dagster_failure(), postgres.get_read_model() as mirror:
            if synced is not None and mirror.key_enforced(spec):
                # The database enforces the key: only the rows are left to count, and this
                # run's sync has just counted them.
                rows = sum(fp.row_count for fp in synced.target.values())
                found, counted_by = KeyViolations(rows, 0, 0, 0), "this run's sync"
            elif synced is None and mirror.describe(spec) is None:
                return dg.AssetCheckResult(
                    passed=True, description=f"{spec.target} does not exist yet: no rows"
                )
            else:
                found = mirror.key_violations(spec, window.start, window.end)
                counted_by = "this check"
        return dg.AssetCheckResult(
            passed=not (found.null_key_rows or found.duplicate_keys),
            metadata={
                "window": f"[{window.start}, {window.end})",
                "primary_key": key,
                "rows": found.rows,
                "rows_counted_by": counted_by,
                "null_key_rows": found.null_key_rows,
                "duplicate_keys": found.duplicate_keys,
                "duplicate_rows": found.duplicate_rows,
            },
        )

    return _check


def _freshness_check(spec: TableSpec) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=spec.name,
        name=FRESHNESS_CHECK,
        description=(
            f"The latest day synced with rows is at most {spec.freshness_lag_days} day(s) "
            "before today (UTC)."
        ),
        retry_policy=RETRY_POLICY,
    )
    def _check(postgres: PostgresResource) -> dg.AssetCheckResult:
        with as_dagster_failure(), postgres.get_repository() as target:
            states = target.stored_states(spec.name)
        # An empty day is synced (and recorded) like any other, so only days that brought rows
        # show that data still arrives; partition keys are ISO dates and sort as text.
        latest = max((k for k, s in states.items() if s.fingerprint.row_count > 0), default=None)
        today = datetime.now(UTC).date()
        age = (today - date.fromisoformat(latest)).days if latest else None
        return dg.AssetCheckResult(
            passed=age is not None and age <= spec.freshness_lag_days,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "latest_partition_with_rows": latest,
                "latest_partition_synced": max(states, default=None),
                "age_days": age,
                "freshness_lag_days": spec.freshness_lag_days,
                "today_utc": today.isoformat(),
            },
        )

    return _check


def build_cost_usage_checks(spec: TableSpec) -> list[dg.AssetChecksDefinition]:
    """The table's checks beside the blocking ``schema_matches`` the asset itself runs.

    Dagster's own ``column_schema_change`` compares the column schema of the table's two latest
    materialisations.
    """
    partitions = daily_partitions(spec.start_date)
    checks = [_reconciled_check(spec, partitions), _freshness_check(spec)]
    checks += dg.build_column_schema_change_checks(assets=[spec.name])
    if spec.primary_key:
        checks.append(_primary_key_check(spec, partitions))
    return checks
