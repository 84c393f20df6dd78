"""The read model the checks use, against a real server: what the mirror holds, per day and key.

Each figure is set up by writing rows through the repository and by hand, so the read model has
to find in the server's tables exactly what is there, including what the sync would never write.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from qupersync_dagster.domain.entities import (
    Column,
    ColumnType,
    KeyViolations,
    SourceFingerprint,
    TableRef,
    TableSchema,
    TypeKind,
)
from qupersync_dagster.infrastructure.postgres.read_model import PostgresReadModel
from qupersync_dagster.infrastructure.postgres.repository import PostgresTargetRepository
from qupersync_dagster_tests.infrastructure.postgres.test_repository import (
    DAY,
    SCHEMA,
    SPEC,
    WINDOW,
    _batch,
    _load,
    _row,
    _state,
)

pytestmark = pytest.mark.integration

WEEK = (date(2026, 8, 1), date(2026, 8, 10))


@pytest.fixture
def target(engine) -> PostgresTargetRepository:
    repository = PostgresTargetRepository(engine)
    repository.create_table(SPEC, SCHEMA)
    return repository


@pytest.fixture
def mirror(engine) -> PostgresReadModel:
    return PostgresReadModel(engine)


def test_target_fingerprints_count_and_sum_each_day(target, mirror, db):
    _load(target, mode="replace", batches=_batch(_row(1, cost="1.25"), _row(2, cost="-0.50")))
    db.execute("INSERT INTO cost.usage VALUES ('id-9', '2026-08-04 10:00:00', 2.00, NULL, NULL)")

    found = mirror.fingerprints(SPEC, *WEEK)

    assert {day: (f.row_count, f.measure_sum) for day, f in found.items()} == {
        DAY: (2, "0.75"),
        date(2026, 8, 4): (1, "2.00"),
    }


def _fingerprint_as_committed(target, spec=SPEC, *, mode: str, batches, full_window=True):
    """Write the day as a sync does and take its fingerprint in its transaction, then commit."""
    with target.partition(spec, WINDOW, SCHEMA.names) as load:
        if mode == "replace":
            load.replace(batches)
        else:
            load.upsert(batches, full_window=full_window)
        found = load.fingerprint()
        load.commit(_state(found.row_count))
    return found


@pytest.mark.parametrize(
    "mode, full_window",
    [("replace", True), ("upsert", True), ("upsert", False)],
    ids=["replace", "upsert", "incremental upsert"],
)
def test_a_days_fingerprint_in_its_transaction_is_what_the_read_model_reads_once_committed(
    target, mirror, db, mode, full_window
):
    db.execute("INSERT INTO cost.usage VALUES ('id-9', '2026-08-04 10:00:00', 2.00, NULL, NULL)")
    first = _fingerprint_as_committed(
        target, mode=mode, batches=_batch(_row(1, cost="1.25"), _row(2), _row(3))
    )
    assert {DAY: first} == _days(mirror.fingerprints(SPEC, *WEEK), DAY)

    second = _fingerprint_as_committed(
        target,
        mode=mode,
        batches=_batch(_row(2, cost="2.50"), _row(4, cost="-0.75")),
        full_window=full_window,
    )

    assert {DAY: second} == _days(mirror.fingerprints(SPEC, *WEEK), DAY)
    assert second == (SourceFingerprint(2, "1.75") if full_window else SourceFingerprint(4, "4.00"))


def test_a_float_measure_is_fingerprinted_by_the_float_rule_in_the_transaction_too(engine, mirror):
    floats = TableSchema(
        tuple(
            Column(c.name, ColumnType(TypeKind.DOUBLE)) if c.name == "cost" else c
            for c in SCHEMA.columns
        )
    )
    spec = replace(SPEC, target=TableRef("cost", "usage_float"))
    target = PostgresTargetRepository(engine)
    target.create_table(spec, floats)

    found = _fingerprint_as_committed(
        target, spec, mode="replace", batches=_batch(_row(1, cost="0.5"), _row(2, cost="-0.25"))
    )

    assert found == SourceFingerprint(2, str(2**40 // 4))  # 0.25 in units of 2^-40
    assert mirror.fingerprints(spec, *WEEK) == {DAY: found}


def test_an_emptied_day_fingerprints_as_no_rows_in_its_transaction(target, mirror):
    _load(target, mode="replace", batches=_batch(_row(1)))

    found = _fingerprint_as_committed(target, mode="replace", batches=[])

    assert found == SourceFingerprint(0)
    assert mirror.fingerprints(SPEC, *WEEK) == {}


def _days(found: dict, *days: date) -> dict:
    return {day: fingerprint for day, fingerprint in found.items() if day in days}


def test_key_violations_count_null_and_duplicate_keys_of_the_window_only(target, mirror, db):
    _load(target, mode="replace", batches=_batch(_row(1), _row(2)))
    db.execute("ALTER TABLE cost.usage DROP CONSTRAINT usage_pkey, ALTER COLUMN id DROP NOT NULL")
    hand_written = [
        ("id-1", f"{DAY} 05:00:00"),  # id-1 now held by three rows
        ("id-1", f"{DAY} 06:00:00"),
        (None, f"{DAY} 07:00:00"),
        ("id-2", "2026-08-12 00:00:00"),  # outside the window
    ]
    db.executemany("INSERT INTO cost.usage (id, usage_start) VALUES (%s, %s)", hand_written)

    found = mirror.key_violations(SPEC, *WEEK)

    assert found == KeyViolations(rows=5, null_key_rows=1, duplicate_keys=1, duplicate_rows=2)


def test_key_violations_of_a_clean_window_are_zero(target, mirror):
    _load(target, mode="replace", batches=_batch(_row(1), _row(2)))

    assert mirror.key_violations(SPEC, *WEEK) == KeyViolations(2, 0, 0, 0)


def test_the_key_is_enforced_only_by_a_valid_primary_key_on_exactly_its_columns(target, mirror, db):
    assert mirror.key_enforced(SPEC)
    assert not mirror.key_enforced(replace(SPEC, primary_key=("id", "usage_start")))

    db.execute("ALTER TABLE cost.usage DROP CONSTRAINT usage_pkey")
    assert not mirror.key_enforced(SPEC)

    db.execute("ALTER TABLE cost.usage ADD PRIMARY KEY (usage_start, id)")
    assert mirror.key_enforced(replace(SPEC, primary_key=("id", "usage_start")))


def test_preview_shows_column_names_and_at_most_limit_rows_of_the_window(target, mirror, db):
    _load(target, mode="replace", batches=_batch(_row(1), _row(2), _row(3)))
    db.execute("INSERT INTO cost.usage (id, usage_start) VALUES ('id-9', '2026-08-12 00:00:00')")

    columns, rows = mirror.preview(SPEC, *WEEK, limit=2)

    assert columns == list(SCHEMA.names)
    assert len(rows) == 2 and {r[0] for r in rows} <= {"id-1", "id-2", "id-3"}


def test_previews_show_at_most_limit_rows_of_each_day_and_every_day_asked_for(target, mirror, db):
    _load(target, mode="replace", batches=_batch(_row(1), _row(2), _row(3)))
    db.execute("INSERT INTO cost.usage VALUES ('id-9', '2026-08-04 10:00:00', 2.00, NULL, NULL)")
    empty = date(2026, 8, 5)

    found = mirror.previews(SPEC, [DAY, date(2026, 8, 4), empty], limit=2)

    assert list(found) == [DAY, date(2026, 8, 4), empty]
    assert all(columns == list(SCHEMA.names) for columns, _ in found.values())
    assert len(found[DAY][1]) == 2 and {r[0] for r in found[DAY][1]} <= {"id-1", "id-2", "id-3"}
    assert [r[0] for r in found[date(2026, 8, 4)][1]] == ["id-9"]
    assert found[empty][1] == []
    assert mirror.previews(SPEC, [], limit=2) == {}


def test_the_read_model_describes_the_table_or_says_it_is_missing(target, mirror):
    assert mirror.describe(SPEC) == target.describe(SPEC)
    assert mirror.describe(SPEC).names == SCHEMA.names
    assert mirror.describe(replace(SPEC, target=TableRef("cost", "absent"))) is None
