"""Where each table comes from, on Dagster's asset graph: Redshift sources -> mirrors -> summary.

The Redshift tables are external assets (QuperSync reads them, never materialises them), so the
graph starts where the data does. Column lineage is an identity for a mirror, known once the
target's columns are (at materialisation), and fixed for the summary: each dimension and measure
comes from one line-item column.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

from qupersync_dagster.domain.entities import (
    SUMMARY_DIMENSIONS,
    SUMMARY_MEASURES,
    TableSchema,
    TableSpec,
)

TABLE_NAME = "dagster/table_name"
COLUMN_LINEAGE = "dagster/column_lineage"


def source_key(spec: TableSpec) -> dg.AssetKey:
    return dg.AssetKey(["redshift", spec.source.schema, spec.source.name])


def source_specs(specs: Iterable[TableSpec]) -> list[dg.AssetSpec]:
    """One external asset per Redshift table read, however many mirrors read it."""
    readers: dict[dg.AssetKey, list[TableSpec]] = {}
    for spec in specs:
        readers.setdefault(source_key(spec), []).append(spec)
    return [
        dg.AssetSpec(
            key,
            description=(
                f"Amazon Redshift table {mirrors[0].source}, read (never written) by "
                f"{', '.join(m.name for m in mirrors)}."
            ),
            group_name="cost_usage",
            kinds={"redshift"},
            metadata={TABLE_NAME: str(mirrors[0].source)},
        )
        for key, mirrors in readers.items()
    ]


def mirror_lineage(spec: TableSpec, target: TableSchema) -> dg.TableColumnLineage:
    """Every mirrored column is its namesake in the Redshift source."""
    source = source_key(spec)
    return dg.TableColumnLineage(
        deps_by_column={
            column.name: [dg.TableColumnDep(source, column.name)] for column in target.columns
        }
    )


def summary_lineage(line_items: TableSpec) -> dg.TableColumnLineage:
    """usage_date from the partition column, dimensions and measures from their line-item column.

    ``line_count`` counts rows and reads no column, so it has no dependency.
    """
    upstream = dg.AssetKey(line_items.name)
    deps = {"usage_date": [dg.TableColumnDep(upstream, line_items.partition_column)]}
    for name, column in SUMMARY_DIMENSIONS + SUMMARY_MEASURES:
        deps[name] = [dg.TableColumnDep(upstream, column)]
    return dg.TableColumnLineage(deps_by_column=deps)
