"""The ports the sync engine drives; infrastructure provides the adapters."""

from qupersync_dagster.domain.repositories.read_model import TargetReadModel
from qupersync_dagster.domain.repositories.source import SourceRepository
from qupersync_dagster.domain.repositories.target import PartitionLoad, TargetRepository

__all__ = ["PartitionLoad", "SourceRepository", "TargetReadModel", "TargetRepository"]
