"""Dagster components QuperSync offers to ``dg`` projects (the ``dg`` registry module)."""

from qupersync_dagster.components.tables import QuperSyncTablesComponent

__all__ = ["QuperSyncTablesComponent"]
