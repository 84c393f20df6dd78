"""Read the YAML table list into validated ``TableSpec``s.

Mistakes in this file are the most common first-run failure, so every message names the entry and
the key, and unknown keys are refused rather than silently ignored. The document's shape is a
typed pydantic model, as Dagster's own configuration is; what a table is, and each key's default,
is ``TableSpec``'s: a key left out of an entry is not passed on, so the domain's default applies.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

from qupersync_dagster.domain.entities import (
    ExtractMethod,
    SchemaPolicy,
    SummarySpec,
    SyncMode,
    TableRef,
    TableSpec,
)
from qupersync_dagster.domain.errors import ConfigError

CONFIG_ENV = "QUPERSYNC_CONFIG"


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


# Value parsers: a ValueError's text is shown after the entry and the key.


def _date(value: Any) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"expected a date like 2026-01-01, got {value!r}") from None


def _one_of(enum: type[StrEnum], value: Any) -> StrEnum:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise ValueError(f"expected one of {allowed}, got {value!r}") from None


def _names(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("expected a list of names")
    return tuple(value)


def _tags(value: Any) -> dict[str, str] | None:
    if value is not None and not isinstance(value, dict):
        raise ValueError("expected a mapping of tag names to values")
    return value and {str(k): str(v) for k, v in value.items()}


def _duration(value: Any) -> timedelta:
    """Seconds as a number, or a text like '36h', '3d', '90m'."""
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
    text = str(value).strip()
    if text[-1:] in units and text[:-1].isdigit():
        return timedelta(**{units[text[-1]]: int(text[:-1])})
    raise ValueError(f"expected seconds or a duration like '36h', got {value!r}")


Day = Annotated[date, BeforeValidator(_date)]
Mode = Annotated[SyncMode | None, BeforeValidator(partial(_one_of, SyncMode))]
Policy = Annotated[SchemaPolicy | None, BeforeValidator(partial(_one_of, SchemaPolicy))]
Method = Annotated[ExtractMethod | None, BeforeValidator(partial(_one_of, ExtractMethod))]
Names = Annotated[tuple[str, ...] | None, BeforeValidator(_names)]
Duration = Annotated[timedelta | None, BeforeValidator(_duration)]
Tags = Annotated[dict[str, str] | None, BeforeValidator(_tags)]


class _Keys(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)

    def given(self) -> dict[str, Any]:
        """The keys the entry sets; ``None`` stands for a key left out."""
        return {key: value for key, value in self if value is not None}


class TableEntry(_Keys):
    """One entry of ``tables:``. A new ``TableSpec`` key is one line here: ``key: Type = None``."""

    name: str
    source: str
    target: str
    partition_column: str
    start_date: Day
    mode: Mode = None
    primary_key: Names = None
    watermark_column: str | None = None
    lookback: Duration = None
    measure_column: str | None = None
    schema_policy: Policy = None
    description: str | None = None
    owners: Names = None
    cron: str | None = None
    schedule_lookback_days: int | None = None
    freshness_lag_days: int | None = None
    tags: Tags = None
    cursor_budget_rows: int | None = None
    extract: Method = None
    unload_above_mb: int | None = None

    def spec(self, where: str) -> TableSpec:
        try:
            return TableSpec(
                **self.given()
                | {
                    "source": TableRef.parse(self.source, "source"),
                    "target": TableRef.parse(self.target, "target"),
                }
            )
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from None


class SummaryEntry(_Keys):
    from_table: str
    target: str
    name: str | None = None


class TableListDocument(_Keys):
    tables: list[TableEntry]
    summary: SummaryEntry | None = None


def load_table_list(path: Path | None = None) -> TableList:
    path = path or configured_path()
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as error:
        raise ConfigError(f"cannot read table list {path}: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"table list {path} is not valid YAML: {error}") from error
    try:
        parsed = TableListDocument.model_validate(document)
    except ValidationError as error:
        raise _config_error(error.errors(), document, path) from None
    origin = f"table list {path}"
    return table_list_of(entry_specs(parsed.tables, origin), parsed.summary, origin)


def entry_specs(entries: list[TableEntry], origin: str) -> list[TableSpec]:
    return [
        entry.spec(f"{origin}, entry {index} ({entry.name!r})")
        for index, entry in enumerate(entries)
    ]


def table_list_of(specs: list[TableSpec], summary: SummaryEntry | None, origin: str) -> TableList:
    """The tables with their summary; an error (a name twice, an unknown from_table) names
    ``origin``."""
    names = [spec.name for spec in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"{origin}: duplicate table name(s) {duplicates}")
    return TableList(specs, _summary(summary, names, f"{origin}, summary"))


def _summary(entry: SummaryEntry | None, names: list[str], where: str) -> SummarySpec | None:
    if entry is None:
        return None
    if entry.from_table not in names:
        raise ConfigError(f"{where}: from_table must name a configured table, one of {names}")
    try:
        return SummarySpec(**entry.given() | {"target": TableRef.parse(entry.target, "target")})
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}") from None


def _config_error(problems: list[ErrorDetails], document: Any, path: Path) -> ConfigError:
    """The first problem in the order the file is read: shape, top-level keys, entries, summary."""
    where = f"table list {path}"
    if any(problem["loc"] in ((), ("tables",)) for problem in problems):
        return ConfigError(f"{where}: expected a top-level 'tables:' list")
    if unknown := sorted(_keys(problems, "extra_forbidden")):
        return ConfigError(f"{where}: unknown top-level key(s) {unknown}")
    first = problems[0]
    if first["loc"][0] == "summary":
        return ConfigError(
            f"{where}, summary: expected keys from_table, target and optionally name"
        )
    index = first["loc"][1]
    where = f"{where}, entry {index}"
    if len(first["loc"]) == 2:
        return ConfigError(f"{where}: expected a mapping of keys")
    where = f"{where} ({document['tables'][index].get('name', '?')!r})"
    if missing := _keys(problems, "missing", "tables", index):
        return ConfigError(f"{where}: missing required key(s) {missing}")
    if unknown := sorted(_keys(problems, "extra_forbidden", "tables", index)):
        return ConfigError(f"{where}: unknown key(s) {unknown}")
    return ConfigError(f"{where}: {first['loc'][2]}: {_reason(first)}")


def _keys(problems: list[ErrorDetails], kind: str, *mapping: str | int) -> list[str]:
    """The keys of ``mapping`` (a location in the document) with a problem of ``kind``."""
    return [str(p["loc"][-1]) for p in problems if p["type"] == kind and p["loc"][:-1] == mapping]


def _reason(problem: ErrorDetails) -> str:
    if problem["type"] == "value_error":
        return str(problem.get("ctx", {}).get("error"))
    return f"{problem['msg']}, got {problem['input']!r}"
