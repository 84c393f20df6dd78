"""Pre-flight must find every schema problem at once and plan only changes that lose nothing.

One failed run should tell the data engineer everything to fix, so the tests check that all
differences are listed, not just that the plan fails.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from qupersync_dagster.domain.entities import (
    Column,
    ColumnType,
    SchemaPolicy,
    SyncMode,
    TableRef,
    TableSchema,
    TableSpec,
    TypeKind,
)
from qupersync_dagster.domain.errors import SchemaMismatchError
from qupersync_dagster.domain.services.schema_validation import plan_schema

ID = Column("id", ColumnType(TypeKind.VARCHAR, length=36), nullable=False)
DAY = Column("usage_start", ColumnType(TypeKind.TIMESTAMP), nullable=False)
COST = Column("cost", ColumnType(TypeKind.NUMERIC, precision=38, scale=10))
NOTE = Column("note", ColumnType(TypeKind.VARCHAR, length=100))
UPDATED = Column("updated_at", ColumnType(TypeKind.TIMESTAMP))
SOURCE = TableSchema((ID, DAY, COST, NOTE, UPDATED))
TARGET = TableSchema((ID, DAY, COST, NOTE, UPDATED), primary_key=("id",))


def _spec(**changes) -> TableSpec:
    base = TableSpec(
        name="usage",
        source=TableRef("billing", "usage"),
        target=TableRef("cost", "usage"),
        partition_column="usage_start",
        start_date=date(2026, 3, 1),
        mode=SyncMode.UPSERT,
        primary_key=("id",),
        watermark_column="updated_at",
        measure_column="cost",
    )
    return replace(base, **changes)


def _with(schema: TableSchema, *columns: Column, drop: tuple[str, ...] = ()) -> TableSchema:
    by_name = {c.name: c for c in schema.columns if c.name not in drop}
    by_name.update({c.name: c for c in columns})
    return TableSchema(tuple(by_name.values()), schema.primary_key)


def test_identical_schemas_need_no_change():
    plan = plan_schema(_spec(), SOURCE, TARGET)
    assert plan.ok and not plan.create and plan.changes == []


def test_a_missing_target_is_planned_for_creation():
    plan = plan_schema(_spec(), SOURCE, None)
    assert plan.ok and plan.create
    assert plan.changes == ["create the target table"]


def test_evolve_adds_new_source_columns_and_widens_narrower_target_columns():
    region = Column("region", ColumnType(TypeKind.TEXT))
    source = _with(SOURCE, region, Column("note", ColumnType(TypeKind.VARCHAR, length=500)))

    plan = plan_schema(_spec(), source, TARGET)

    assert plan.ok
    assert plan.added == [region]
    assert plan.widened == [Column("note", ColumnType(TypeKind.VARCHAR, length=500), True)]


def test_fail_policy_lists_every_difference_and_plans_no_change():
    source = _with(
        SOURCE,
        Column("region", ColumnType(TypeKind.TEXT)),
        Column("note", ColumnType(TypeKind.VARCHAR, length=500)),
        Column("cost", ColumnType(TypeKind.NUMERIC, precision=38, scale=12)),
    )

    plan = plan_schema(_spec(schema_policy=SchemaPolicy.FAIL), source, TARGET)

    assert not plan.ok and plan.added == [] and plan.widened == []
    assert len(plan.differences) == 3
    assert "'region'" in plan.differences[2]
    with pytest.raises(SchemaMismatchError) as raised:
        plan.raise_for("usage")
    assert raised.value.differences == plan.differences
    assert all(d in str(raised.value) for d in plan.differences)


@pytest.mark.parametrize("policy", list(SchemaPolicy))
def test_a_change_that_would_lose_values_is_refused_under_every_policy(policy):
    source = _with(SOURCE, Column("cost", ColumnType(TypeKind.DOUBLE)))
    plan = plan_schema(_spec(schema_policy=policy), source, TARGET)
    assert plan.differences == [
        "column 'cost': target type numeric(38,10) cannot hold source type double"
    ]


def test_source_requirements_are_all_reported_together():
    source = TableSchema(
        (
            Column("id", ColumnType(TypeKind.VARCHAR, length=36), nullable=True),
            Column("usage_start", ColumnType(TypeKind.VARCHAR, length=20)),
            Column("cost", ColumnType(TypeKind.VARCHAR, length=20)),
            Column("updated_at", ColumnType(TypeKind.BOOLEAN)),
        )
    )
    spec = _spec(primary_key=("id", "line"))

    differences = plan_schema(spec, source, None).differences

    assert differences == [
        "partition_column 'usage_start' is varchar(20), expected a date or timestamp",
        "primary_key column 'id' is nullable in the source",
        "primary_key column 'line' is not in the source table",
        "watermark_column 'updated_at' is boolean, expected a date, timestamp or integer",
        "measure_column 'cost' is varchar(20), not numeric",
    ]


def test_columns_named_in_the_spec_must_exist_in_the_source():
    source = TableSchema((ID,))
    differences = plan_schema(_spec(), source, None).differences
    assert [d.split(" is not")[0] for d in differences] == [
        "partition_column 'usage_start'",
        "watermark_column 'updated_at'",
        "measure_column 'cost'",
    ]


def test_a_not_null_target_column_refuses_a_nullable_source_column():
    target = _with(TARGET, replace(NOTE, nullable=False))
    assert plan_schema(_spec(), SOURCE, target).differences == [
        "column 'note' is NOT NULL in the target but nullable in the source"
    ]


def test_a_not_null_target_column_without_a_source_column_is_refused():
    target = _with(TARGET, Column("tenant", ColumnType(TypeKind.TEXT), nullable=False))
    assert plan_schema(_spec(), SOURCE, target).differences == [
        "target column 'tenant' is NOT NULL and has no source column to fill it"
    ]


def test_a_nullable_extra_target_column_is_accepted():
    target = _with(TARGET, Column("tenant", ColumnType(TypeKind.TEXT)))
    assert plan_schema(_spec(), SOURCE, target).ok


def test_upsert_needs_the_target_primary_key_to_match_the_configured_one():
    target = TableSchema(TARGET.columns, primary_key=("id", "usage_start"))
    assert plan_schema(_spec(), SOURCE, target).differences == [
        "target primary key ['id', 'usage_start'] differs from the configured primary_key ['id']"
    ]


def test_replace_mode_does_not_need_a_target_primary_key():
    spec = _spec(mode=SyncMode.REPLACE, primary_key=(), watermark_column=None)
    assert plan_schema(spec, SOURCE, TableSchema(TARGET.columns)).ok
