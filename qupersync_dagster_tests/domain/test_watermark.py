"""When a partition may be skipped, and where an incremental read starts.

Getting either wrong loses data silently (a changed day skipped, a changed row never read), so
each branch of the rules is pinned here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from qupersync_dagster.domain.entities import (
    SourceFingerprint,
    SyncMode,
    SyncWatermark,
    TableRef,
    TableSpec,
)
from qupersync_dagster.domain.services.watermark import (
    changed_since,
    fingerprint_for,
    is_unchanged,
)

FINGERPRINT = SourceFingerprint(10, "12.50", "2026-03-10 08:00:00", "sig-a")


def _spec(watermark_column: str | None = "updated_at", lookback=timedelta(0)) -> TableSpec:
    return TableSpec(
        name="usage",
        source=TableRef("billing", "usage"),
        target=TableRef("cost", "usage"),
        partition_column="usage_start",
        start_date=date(2026, 3, 1),
        mode=SyncMode.UPSERT,
        primary_key=("id",),
        watermark_column=watermark_column,
        lookback=lookback,
    )


def _stored(fingerprint: SourceFingerprint = FINGERPRINT, watermark: str | None = None):
    return SyncWatermark(
        table="usage",
        partition="2026-03-01",
        fingerprint=fingerprint,
        watermark=fingerprint.max_watermark if watermark is None else watermark,
        rows_extracted=10,
        rows_inserted=10,
        rows_updated=0,
        rows_deleted=0,
        finished_at=datetime(2026, 3, 11, tzinfo=UTC),
    )


def test_a_day_without_source_rows_has_an_empty_fingerprint_tied_to_the_schema():
    assert fingerprint_for(None, "sig-b") == SourceFingerprint(0, None, None, "sig-b")


def test_the_fingerprint_takes_the_current_schema_signature():
    found = SourceFingerprint(10, "12.50", "2026-03-10 08:00:00")
    assert fingerprint_for(found, "sig-a") == FINGERPRINT


def test_a_never_synced_day_is_changed():
    assert not is_unchanged(None, FINGERPRINT)


def test_a_day_is_unchanged_only_when_every_part_of_the_fingerprint_is_equal():
    stored = _stored()
    assert is_unchanged(stored, FINGERPRINT)
    for field, value in (
        ("row_count", 11),
        ("measure_sum", "12.51"),
        ("max_watermark", "2026-03-10 08:00:01"),
        ("schema_signature", "sig-b"),
    ):
        assert not is_unchanged(stored, SourceFingerprint(**{**FINGERPRINT.__dict__, field: value}))


@pytest.mark.parametrize(
    ("spec", "stored", "fingerprint"),
    [
        (_spec(watermark_column=None), _stored(), FINGERPRINT),
        (_spec(), None, FINGERPRINT),
        (_spec(), _stored(SourceFingerprint(10, "12.50", None, "sig-a")), FINGERPRINT),
        (_spec(), _stored(), SourceFingerprint(10, "12.50", "2026-03-10 08:00:00", "sig-b")),
    ],
    ids=["no watermark column", "never synced", "no stored watermark", "schema changed"],
)
def test_the_whole_window_is_read_when_an_incremental_read_could_miss_rows(
    spec, stored, fingerprint
):
    assert changed_since(spec, stored, fingerprint) is None


def test_an_incremental_read_starts_at_the_stored_watermark():
    assert changed_since(_spec(), _stored(), FINGERPRINT) == "2026-03-10 08:00:00"


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("2026-03-10 08:00:00", "2026-03-08 20:00:00"),
        ("2026-03-10 08:00:00.250000", "2026-03-08 20:00:00.250000"),
        ("2026-03-10 08:00:00+00", "2026-03-08 20:00:00+00:00"),
        ("2026-03-10", "2026-03-08 12:00:00"),
    ],
)
def test_a_lookback_moves_the_start_of_the_incremental_read_back(stored, expected):
    spec = _spec(lookback=timedelta(hours=36))
    fingerprint = SourceFingerprint(10, "12.50", stored, "sig-a")
    assert changed_since(spec, _stored(fingerprint), fingerprint) == expected


@pytest.mark.parametrize("stored", ["123456", "20260310", "-5"])
def test_a_lookback_on_an_integer_watermark_reads_the_whole_window(stored):
    spec = _spec(lookback=timedelta(hours=36))
    fingerprint = SourceFingerprint(10, "12.50", stored, "sig-a")
    assert changed_since(spec, _stored(fingerprint), fingerprint) is None
