"""Pre-flight: decide, before anything is written, whether source rows fit the target table.

Every difference is collected rather than stopping at the first, so one failed run tells the data
engineer everything to fix. Additive changes (a new source column, a wider varchar, more numeric
digits) are applied when the table's policy is ``evolve``; anything that could lose or alter a
value is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from qupersync_dagster.domain.entities import (
    Column,
    SchemaPolicy,
    SyncMode,
    TableSchema,
    TableSpec,
    TypeKind,
)
from qupersync_dagster.domain.errors import SchemaMismatchError
from qupersync_dagster.domain.repositories import SourceRepository

_PARTITION_KINDS = {TypeKind.DATE, TypeKind.TIMESTAMP, TypeKind.TIMESTAMPTZ}
_WATERMARK_KINDS = _PARTITION_KINDS | {TypeKind.SMALLINT, TypeKind.INTEGER, TypeKind.BIGINT}
_MEASURE_KINDS = {
    TypeKind.NUMERIC,
    TypeKind.SMALLINT,
    TypeKind.INTEGER,
    TypeKind.BIGINT,
    TypeKind.REAL,
    TypeKind.DOUBLE,
}


@dataclass
class SchemaPlan:
    """What pre-flight found: the changes to make, and the differences that forbid the sync."""

    create: bool = False
    added: list[Column] = field(default_factory=list)
    widened: list[Column] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    @property
    def changes(self) -> list[str]:
        notes = ["create the target table"] if self.create else []
        notes += [f"add column {c.name!r} {c.type}" for c in self.added]
        notes += [f"widen column {c.name!r} to {c.type}" for c in self.widened]
        return notes

    def raise_for(self, table: str) -> None:
        if self.differences:
            raise SchemaMismatchError(table, self.differences)


def _role_problem(
    source: TableSchema, role: str, name: str, kinds: set[TypeKind], expected: str
) -> str | None:
    """Why column ``name``, configured as ``role``, cannot serve it; None when it can."""
    column = source.get(name)
    if column is None:
        return f"{role} {name!r} is not in the source table"
    if column.type.kind not in kinds:
        return f"{role} {name!r} is {column.type}, {expected}"
    return None


def _key_problem(source: TableSchema, key: str) -> str | None:
    column = source.get(key)
    if column is None:
        return f"primary_key column {key!r} is not in the source table"
    if column.nullable:
        return f"primary_key column {key!r} is nullable in the source"
    return None


def _source_requirements(spec: TableSpec, source: TableSchema) -> list[str]:
    problems = [
        _role_problem(
            source,
            "partition_column",
            spec.partition_column,
            _PARTITION_KINDS,
            "expected a date or timestamp",
        )
    ]
    problems += [_key_problem(source, key) for key in spec.primary_key]
    if spec.watermark_column:
        problems.append(
            _role_problem(
                source,
                "watermark_column",
                spec.watermark_column,
                _WATERMARK_KINDS,
                "expected a date, timestamp or integer",
            )
        )
    if spec.measure_column:
        problems.append(
            _role_problem(
                source, "measure_column", spec.measure_column, _MEASURE_KINDS, "not numeric"
            )
        )
    return [problem for problem in problems if problem]


def plan_schema(spec: TableSpec, source: TableSchema, target: TableSchema | None) -> SchemaPlan:
    """Compare the live schemas for ``spec`` and plan the target changes under its policy."""
    plan = SchemaPlan(differences=_source_requirements(spec, source))
    if target is None:
        plan.create = True
        return plan
    evolve = spec.schema_policy is SchemaPolicy.EVOLVE
    for column in source.columns:
        existing = target.get(column.name)
        if existing is None:
            if evolve:
                plan.added.append(column)
            else:
                plan.differences.append(
                    f"source column {column.name!r} ({column.type}) is missing in the target"
                )
            continue
        if not existing.type.holds(column.type):
            wider = existing.type.widened_to_hold(column.type)
            if evolve and wider is not None:
                plan.widened.append(Column(column.name, wider, existing.nullable))
            else:
                plan.differences.append(
                    f"column {column.name!r}: target type {existing.type} cannot hold source "
                    f"type {column.type}"
                )
        if not existing.nullable and column.nullable and column.name not in spec.primary_key:
            plan.differences.append(
                f"column {column.name!r} is NOT NULL in the target but nullable in the source"
            )
    for column in target.columns:
        if column.name not in source and not column.nullable:
            plan.differences.append(
                f"target column {column.name!r} is NOT NULL and has no source column to fill it"
            )
    if spec.mode is SyncMode.UPSERT and set(target.primary_key) != set(spec.primary_key):
        plan.differences.append(
            f"target primary key {list(target.primary_key)} differs from the configured "
            f"primary_key {list(spec.primary_key)}"
        )
    return plan


class TargetCatalogue(Protocol):
    """Whatever can describe the target table: the repository a sync writes through, or a
    read-only view of the mirror (``qupersync doctor``)."""

    def describe(self, spec: TableSpec) -> TableSchema | None: ...


def preflight(
    source: SourceRepository, target: TargetCatalogue, spec: TableSpec
) -> tuple[TableSchema, SchemaPlan]:
    """Describe both live tables and plan the target's changes; writes nothing."""
    source_schema = source.describe(spec.source)
    return source_schema, plan_schema(spec, source_schema, target.describe(spec))
