"""What one configured table is: where it comes from, where it goes and how it is kept in step."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from qupersync_dagster.domain.entities.extraction import ExtractMethod
from qupersync_dagster.domain.errors import ConfigError


class SyncMode(StrEnum):
    REPLACE = "replace"
    UPSERT = "upsert"


class SchemaPolicy(StrEnum):
    EVOLVE = "evolve"
    FAIL = "fail"


# Names from configuration are quoted in every statement anyway; refusing anything outside plain
# identifiers as well means a typo or an injection attempt fails loudly at load time.
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,126}$")


def check_identifier(value: str, what: str) -> str:
    if not isinstance(value, str) or not _IDENTIFIER.match(value):
        raise ConfigError(
            f"{what}: {value!r} is not a plain SQL identifier "
            "(letters, digits, _ and $, starting with a letter or _)"
        )
    return value


@dataclass(frozen=True)
class TableRef:
    schema: str
    name: str

    @classmethod
    def parse(cls, dotted: str, what: str) -> TableRef:
        parts = dotted.split(".") if isinstance(dotted, str) else []
        if len(parts) != 2:
            raise ConfigError(f"{what}: expected 'schema.table', got {dotted!r}")
        return cls(check_identifier(parts[0], what), check_identifier(parts[1], what))

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class TableSpec:
    """One entry of the table list (see the README for every key)."""

    name: str
    source: TableRef
    target: TableRef
    partition_column: str
    start_date: date
    mode: SyncMode = SyncMode.REPLACE
    primary_key: tuple[str, ...] = ()
    watermark_column: str | None = None
    lookback: timedelta = timedelta(0)
    measure_column: str | None = None
    schema_policy: SchemaPolicy = SchemaPolicy.EVOLVE
    description: str = ""
    owners: tuple[str, ...] = ()
    cron: str = "0 6 * * *"
    schedule_lookback_days: int = 3
    freshness_lag_days: int = 2
    tags: dict[str, str] = field(default_factory=dict)
    cursor_budget_rows: int | None = None  # a larger day is read by several cursors
    extract: ExtractMethod = ExtractMethod.AUTO  # cursor, unload, or auto (by the day's size)
    unload_above_mb: int = 256  # auto: a day estimated larger than this is UNLOADed

    def __post_init__(self) -> None:
        check_identifier(self.name, "name")
        where = f"table {self.name!r}"
        check_identifier(self.partition_column, f"{where}: partition_column")
        for column in self.primary_key:
            check_identifier(column, f"{where}: primary_key")
        if len(set(self.primary_key)) != len(self.primary_key):
            raise ConfigError(f"{where}: primary_key lists a column twice")
        for key, value in (
            ("watermark_column", self.watermark_column),
            ("measure_column", self.measure_column),
        ):
            if value is not None:
                check_identifier(value, f"{where}: {key}")
        if self.mode is SyncMode.UPSERT and not self.primary_key:
            raise ConfigError(f"{where}: mode 'upsert' needs a primary_key")
        if self.watermark_column and self.mode is not SyncMode.UPSERT:
            raise ConfigError(f"{where}: watermark_column applies to mode 'upsert' only")
        if self.lookback < timedelta(0):
            raise ConfigError(f"{where}: lookback must not be negative")
        if self.cursor_budget_rows is not None and self.cursor_budget_rows < 1:
            raise ConfigError(f"{where}: cursor_budget_rows must be a positive number of rows")
        if self.unload_above_mb < 0:
            raise ConfigError(f"{where}: unload_above_mb must not be negative")
        if self.schedule_lookback_days < 0 or self.freshness_lag_days < 0:
            raise ConfigError(f"{where}: schedule_lookback_days/freshness_lag_days >= 0")
