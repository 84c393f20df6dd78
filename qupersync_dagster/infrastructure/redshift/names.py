"""Quoted Redshift names: every identifier from configuration or the catalogue goes through here."""

from __future__ import annotations

from qupersync_dagster.domain.entities import TableRef


def identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_name(ref: TableRef) -> str:
    return f"{identifier(ref.schema)}.{identifier(ref.name)}"
