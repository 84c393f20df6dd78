"""The ports the sync engine drives; infrastructure provides the adapters."""

from qupersync_dagster.domain.repositories.read_model import TargetReadModel
from qupersync_dagster.domain.repositories.source import Extract, SourceRepository
from qupersync_dagster.domain.repositories.target import PartitionLoad, TargetRepository

__all__ = ["Extract", "PartitionLoad", "SourceRepository", "TargetReadModel", "TargetRepository"]
