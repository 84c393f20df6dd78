"""Find the days AWS restated anywhere in a table's history, and sync exactly those.

The schedule only looks a few days back, but AWS re-delivers older days too (credits, refunds,
corrections at month close). The sensor compares every day's source fingerprint with the stored
sync state by the engine's own rule, so it asks for a run precisely when a sync would change
something, and asks once: the cursor remembers what was requested until the run has finished.
"""

import hashlib
import json
import os
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from qupersync_dagster.defs.cost_usage.schedules import partition_tags, sync_job_name
from qupersync_dagster.defs.resources import PostgresResource, RedshiftResource
from qupersync_dagster.domain.entities import (
    PartitionWindow,
    SourceFingerprint,
    SyncWatermark,
    TableSpec,
)
from qupersync_dagster.domain.errors import ConfigError
from qupersync_dagster.domain.services.watermark import fingerprint_for, is_unchanged

INTERVAL_ENV = "QUPERSYNC_SENSOR_INTERVAL_S"
DEFAULT_INTERVAL_S = 3600
RESTATEMENT_TAG = "qupersync/restatement"
"""Run tag naming the set of changed partitions a run was requested for."""


def _sensor_interval_s() -> int:
    """Seconds between evaluations: ``$QUPERSYNC_SENSOR_INTERVAL_S``, else one hour."""
    value = os.environ.get(INTERVAL_ENV, "").strip()
    if not value:
        return DEFAULT_INTERVAL_S
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"{INTERVAL_ENV} must be a whole number of seconds, got {value!r}")
    return int(value)


def _changed_partitions(
    window: PartitionWindow,
    signature: str,
    found: dict[date, SourceFingerprint],
    stored: dict[str, SyncWatermark],
) -> dict[str, SourceFingerprint]:
    """The days of ``window`` a sync would rewrite, with their current source fingerprints.

    A day never synced counts only once the source has rows for it; a synced day whose rows
    are all gone counts, since its mirrored rows must go too.
    """
    changed = {}
    for day in window.days():
        key = day.isoformat()
        fingerprint = fingerprint_for(found.get(day), signature)
        if is_unchanged(stored.get(key), fingerprint) or (key not in stored and day not in found):
            continue
        changed[key] = fingerprint
    return changed


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def _fingerprint_digest(fingerprint: SourceFingerprint) -> str:
    return _digest(
        [
            fingerprint.row_count,
            fingerprint.measure_sum,
            fingerprint.max_watermark,
            fingerprint.schema_signature,
        ]
    )


def _in_flight(context: dg.SensorEvaluationContext, request_key: str) -> bool:
    """True unless every run launched for ``request_key`` has finished (it failed, then).

    A request whose run does not exist (yet) counts as in flight.
    """
    runs = context.instance.get_runs(filters=dg.RunsFilter(tags={RESTATEMENT_TAG: request_key}))
    return not runs or any(not run.is_finished for run in runs)


def build_restatement_sensor(spec: TableSpec) -> dg.SensorDefinition:
    """Request one run over the first to the last changed day of ``spec``'s whole history.

    Stopped by default, like the schedule. The cursor is the JSON ``{partition: fingerprint
    digest}`` last requested: the same changes are not requested again while their run is
    queued or running, but are when it finished without syncing them, or when anything else
    changes.
    """

    @dg.sensor(
        name=f"{spec.name}_restatement_sensor",
        job_name=sync_job_name(spec),
        minimum_interval_seconds=_sensor_interval_s(),
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=(
            f"Sync the {spec.name} days whose source no longer matches the stored sync state "
            "(restated by AWS), in one run."
        ),
    )
    def _sensor(
        context: dg.SensorEvaluationContext,
        redshift: RedshiftResource,
        postgres: PostgresResource,
    ) -> dg.SensorResult:
        window = PartitionWindow(spec.start_date, datetime.now(UTC).date() + timedelta(days=1))
        with redshift.get_repository() as source, postgres.get_repository() as target:
            schema = source.describe(spec.source)
            found = source.fingerprints(spec, schema, window.start, window.end)
            stored = target.stored_states(spec.name)
        changed = {
            key: _fingerprint_digest(fingerprint)
            for key, fingerprint in _changed_partitions(
                window, schema.signature(), found, stored
            ).items()
        }
        if not changed:
            return dg.SensorResult(skip_reason="every day matches its sync state", cursor="{}")
        requested = json.loads(context.cursor) if context.cursor else {}
        already = all(requested.get(key) == digest for key, digest in changed.items())
        if already and _in_flight(context, _digest([spec.name, requested])):
            return dg.SensorResult(
                skip_reason=f"{len(changed)} changed day(s) already requested, run not finished",
                cursor=context.cursor,
            )
        days = sorted(changed)
        context.log.info(f"{spec.name}: {len(days)} changed day(s): {', '.join(days)}")
        tags = partition_tags(date.fromisoformat(days[0]), date.fromisoformat(days[-1]))
        tags[RESTATEMENT_TAG] = _digest([spec.name, changed])
        return dg.SensorResult(
            run_requests=[dg.RunRequest(tags=tags)], cursor=json.dumps(changed, sort_keys=True)
        )

    return _sensor
