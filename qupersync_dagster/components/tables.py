"""``QuperSyncTablesComponent``: the cost-usage tables to mirror, as a ``dg`` component instance.

A ``defs.yaml`` declares the tables inline (``tables:`` and ``summary:``, the keys of the table
list) or names a table-list file (``table_list:``, relative to the ``defs.yaml``); with neither,
it reads ``$QUPERSYNC_CONFIG`` or the shipped example, as ``qupersync_dagster.definitions`` does.
Inline entries are typed by the table list's own pydantic model, so ``dg check yaml`` points at
the file, line and key of a bad entry, and both paths build the very same definitions.
"""

# No `from __future__ import annotations`: Dagster reads the field annotations at run time.
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import dagster as dg
from pydantic import BaseModel, Field

from qupersync_dagster.defs.cost_usage.table_defs import build_table_definitions
from qupersync_dagster.domain.entities import TableSpec
from qupersync_dagster.domain.errors import ConfigError
from qupersync_dagster.infrastructure.table_list import (
    SummaryEntry,
    TableEntry,
    TableList,
    entry_specs,
    load_table_list,
    table_list_of,
)


def _specs(_: dg.ResolutionContext, entries: list[TableEntry] | None) -> list[TableSpec] | None:
    """Entries, already validated by the table list's model, as the domain's table specs.

    An error raised here is reported by Dagster with the file and line of ``tables:``.
    """
    return None if entries is None else entry_specs(entries, "tables")


def _beside_defs_yaml(context: dg.ResolutionContext, path: str | None) -> Path | None:
    return None if path is None else context.resolve_source_relative_path(path)


class QuperSyncTablesAttributes(dg.Model):
    """What ``attributes:`` of a ``defs.yaml`` may hold, typed by the table list's own model.

    ``tables`` and ``summary`` have one type each (no union with null or a template string), so
    the JSON schema ``dg check yaml`` validates against reaches into every entry and reports the
    line and key of a bad one.
    """

    table_list: str | None = Field(
        default=None, description="A table-list YAML file, relative to this defs.yaml."
    )
    tables: list[TableEntry] = Field(
        default_factory=list,
        description="The tables to mirror, each with the keys of a table-list entry.",
    )
    summary: SummaryEntry = Field(  # type: ignore[assignment]  # None: no summary, not null
        default=None, description="The daily cost summary: from_table, target, optionally name."
    )


@dataclass
class QuperSyncTablesComponent(dg.Component, dg.Resolvable):
    """Mirror Amazon Redshift cost-usage tables into PostgreSQL, one daily-partitioned asset each,
    with their checks, daily schedule, restatement sensor and (optionally) the daily cost summary.

    Connections are the ``redshift`` and ``postgres`` resources, which the code location provides.
    """

    # Each field is resolved from its namesake in QuperSyncTablesAttributes (the schema).
    table_list: Annotated[
        Path | None, dg.Resolver(_beside_defs_yaml, model_field_type=str | None)
    ] = None
    tables: Annotated[
        list[TableSpec] | None, dg.Resolver(_specs, model_field_type=list[TableEntry] | None)
    ] = None
    summary: SummaryEntry | None = None

    @classmethod
    def get_model_cls(cls) -> type[BaseModel]:
        return QuperSyncTablesAttributes

    def load_table_list(self, where: str) -> TableList:
        """The tables this instance declares; ``where`` (its defs.yaml) starts every error."""
        if self.tables is not None:
            if self.table_list is not None:
                raise ConfigError(f"{where}: give either tables or table_list, not both")
            return table_list_of(self.tables, self.summary, where)
        if self.summary is not None:
            raise ConfigError(f"{where}: summary goes with inline tables, or in the table list")
        return load_table_list(self.table_list)

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        return build_table_definitions(self.load_table_list(str(context.path / "defs.yaml")))
