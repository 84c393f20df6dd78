"""Entities: plain dataclasses with no behaviour that needs a server."""

from qupersync_dagster.domain.entities.cost_usage import (
    SUMMARY_DIMENSIONS,
    SUMMARY_MEASURES,
    ServiceCost,
    SummarySpec,
)
from qupersync_dagster.domain.entities.extraction import (
    ExtractChoice,
    Extraction,
    ExtractMethod,
)
from qupersync_dagster.domain.entities.key_violations import KeyViolations
from qupersync_dagster.domain.entities.query import RedshiftQuery
from qupersync_dagster.domain.entities.read import WindowRead
from qupersync_dagster.domain.entities.schema import Column, ColumnType, TableSchema, TypeKind
from qupersync_dagster.domain.entities.sync import (
    LoadCounts,
    PartitionOutcome,
    PartitionWindow,
    RowBatch,
    SourceFingerprint,
    SyncResult,
    SyncWatermark,
)
from qupersync_dagster.domain.entities.table import (
    SchemaPolicy,
    SyncMode,
    TableRef,
    TableSpec,
    check_identifier,
)

__all__ = [
    "SUMMARY_DIMENSIONS",
    "SUMMARY_MEASURES",
    "Column",
    "ColumnType",
    "ExtractChoice",
    "ExtractMethod",
    "Extraction",
    "KeyViolations",
    "LoadCounts",
    "PartitionOutcome",
    "PartitionWindow",
    "RedshiftQuery",
    "RowBatch",
    "SchemaPolicy",
    "ServiceCost",
    "SourceFingerprint",
    "SummarySpec",
    "SyncMode",
    "SyncResult",
    "SyncWatermark",
    "TableRef",
    "TableSchema",
    "TableSpec",
    "TypeKind",
    "WindowRead",
    "check_identifier",
]
