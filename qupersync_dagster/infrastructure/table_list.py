"""Read the YAML table list into validated ``TableSpec``s.

Mistakes in this file are the most common first-run failure, so every message names the entry and
the key, and unknown keys are refused rather than silently ignored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from qupersync_dagster.domain.entities import (
    SchemaPolicy,
    SummarySpec,
    SyncMode,
    TableRef,
    TableSpec,
)
from qupersync_dagster.domain.errors import ConfigError

CONFIG_ENV = "QUPERSYNC_CONFIG"

_REQUIRED = ("name", "source", "target", "partition_column", "start_date")
_OPTIONAL = {
    "mode",
    "primary_key",
    "watermark_column",
    "lookback",
    "measure_column",
    "schema_policy",
    "description",
    "owners",
    "cron",
    "schedule_lookback_days",
    "freshness_lag_days",
    "tags",
    "cursor_budget_rows",
}


def default_path() -> Path:
    return Path(str(resources.files("qupersync_dagster") / "config" / "tables.yaml"))


def configured_path() -> Path:
    """``$QUPERSYNC_CONFIG``, or the example shipped with the package."""
    value = os.environ.get(CONFIG_ENV)
    return Path(value) if value else default_path()


@dataclass(frozen=True)
class TableList:
    tables: list[TableSpec]
    summary: SummarySpec | None = None

    def table(self, name: str) -> TableSpec:
        for spec in self.tables:
            if spec.name == name:
                return spec
        raise KeyError(name)


def load_table_list(path: Path | None = None) -> TableList:
    path = path or configured_path()
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as error:
        raise ConfigError(f"cannot read table list {path}: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"table list {path} is not valid YAML: {error}") from error
    if not isinstance(document, dict) or not isinstance(document.get("tables"), list):
        raise ConfigError(f"table list {path}: expected a top-level 'tables:' list")
    unknown = sorted(set(document) - {"tables", "summary"})
    if unknown:
        raise ConfigError(f"table list {path}: unknown top-level key(s) {unknown}")
    specs = [_spec(entry, index, path) for index, entry in enumerate(document["tables"])]
    names = [spec.name for spec in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"table list {path}: duplicate table name(s) {duplicates}")
    return TableList(specs, _summary(document.get("summary"), names, path))


def _summary(entry: Any, names: list[str], path: Path) -> SummarySpec | None:
    if entry is None:
        return None
    where = f"table list {path}, summary"
    if not isinstance(entry, dict) or set(entry) - {"from_table", "target", "name"}:
        raise ConfigError(f"{where}: expected keys from_table, target and optionally name")
    if entry.get("from_table") not in names:
        raise ConfigError(f"{where}: from_table must name a configured table, one of {names}")
    try:
        return SummarySpec(
            from_table=entry["from_table"],
            target=TableRef.parse(entry.get("target", ""), f"{where}: target"),
            name=entry.get("name", "cost_usage_summary"),
        )
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}") from None


def _spec(entry: Any, index: int, path: Path) -> TableSpec:
    where = f"table list {path}, entry {index}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a mapping of keys")
    where = f"{where} ({entry.get('name', '?')!r})"
    missing = [key for key in _REQUIRED if key not in entry]
    if missing:
        raise ConfigError(f"{where}: missing required key(s) {missing}")
    unknown = sorted(set(entry) - set(_REQUIRED) - _OPTIONAL)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}")
    try:
        return TableSpec(
            name=entry["name"],
            source=TableRef.parse(entry["source"], f"{where}: source"),
            target=TableRef.parse(entry["target"], f"{where}: target"),
            partition_column=entry["partition_column"],
            start_date=_date(entry["start_date"], f"{where}: start_date"),
            mode=_choice(SyncMode, entry.get("mode", "replace"), f"{where}: mode"),
            primary_key=tuple(_list(entry.get("primary_key", []), f"{where}: primary_key")),
            watermark_column=entry.get("watermark_column"),
            lookback=_duration(entry.get("lookback", 0), f"{where}: lookback"),
            measure_column=entry.get("measure_column"),
            schema_policy=_choice(
                SchemaPolicy, entry.get("schema_policy", "evolve"), f"{where}: schema_policy"
            ),
            description=str(entry.get("description", "")),
            owners=tuple(_list(entry.get("owners", []), f"{where}: owners")),
            cron=str(entry.get("cron", "0 6 * * *")),
            schedule_lookback_days=int(entry.get("schedule_lookback_days", 3)),
            freshness_lag_days=int(entry.get("freshness_lag_days", 2)),
            tags=_tags(entry.get("tags"), f"{where}: tags"),
            cursor_budget_rows=entry.get("cursor_budget_rows"),
        )
    except ConfigError as error:
        message = str(error)
        prefixed = message if message.startswith("table list") else f"{where}: {message}"
        raise ConfigError(prefixed) from None
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{where}: {error}") from error


def _date(value: Any, where: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{where}: expected a date like 2026-01-01, got {value!r}") from None


def _choice(enum: type, value: Any, where: str):
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise ConfigError(f"{where}: expected one of {allowed}, got {value!r}") from None


def _list(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: expected a list of names")
    return value


def _tags(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a mapping of tag names to values")
    return {str(k): str(v) for k, v in value.items()}


def _duration(value: Any, where: str) -> timedelta:
    """Seconds as a number, or a text like '36h', '3d', '90m'."""
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
    text = str(value).strip()
    if text[-1:] in units and text[:-1].isdigit():
        return timedelta(**{units[text[-1]]: int(text[:-1])})
    raise ConfigError(f"{where}: expected seconds or a duration like '36h', got {value!r}")
