"""A table's configuration is checked when it is built, so a bad entry never reaches a server.

Names end up quoted inside SQL; refusing anything but plain identifiers means a typo or an
injection attempt fails at load time with a message naming the key.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from qupersync_dagster.domain.entities import (
    PartitionWindow,
    SyncMode,
    TableRef,
    TableSpec,
    check_identifier,
)
from qupersync_dagster.domain.errors import ConfigError

BASE = TableSpec(
    name="cur_line_items",
    source=TableRef("billing", "cur_line_items"),
    target=TableRef("cost", "cur_line_items"),
    partition_column="line_item_usage_start_date",
    start_date=date(2026, 1, 1),
)


@pytest.mark.parametrize("name", ["a", "_x", "Line_Item_2", "cost$usage", "a" * 127])
def test_plain_identifiers_are_accepted(name):
    assert check_identifier(name, "name") == name


@pytest.mark.parametrize(
    "name",
    ['a"b', "cur; DROP TABLE x", "1abc", "", "a b", "a-b", "a.b", "a" * 128, "naïve", None, 7],
)
def test_anything_but_a_plain_identifier_is_refused_naming_the_key(name):
    with pytest.raises(ConfigError, match="^partition_column: .* not a plain SQL identifier"):
        check_identifier(name, "partition_column")


@pytest.mark.parametrize(
    "dotted", ["billing.cur; DROP TABLE x", 'billing.a"b', "billing", "a.b.c", "", None]
)
def test_a_table_reference_must_be_two_plain_identifiers(dotted):
    with pytest.raises(ConfigError, match="^source: "):
        TableRef.parse(dotted, "source")


def test_a_table_reference_parses_schema_and_name():
    assert TableRef.parse("billing.cur", "source") == TableRef("billing", "cur")
    assert str(TableRef("billing", "cur")) == "billing.cur"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "cur-items"}, "^name: "),
        ({"partition_column": "day;"}, "partition_column"),
        ({"primary_key": ("id", 'x"')}, "primary_key"),
        ({"primary_key": ("id", "id")}, "primary_key lists a column twice"),
        ({"measure_column": "cost)"}, "measure_column"),
        ({"mode": SyncMode.UPSERT}, "mode 'upsert' needs a primary_key"),
        ({"watermark_column": "updated_at"}, "watermark_column applies to mode 'upsert' only"),
        ({"lookback": timedelta(hours=-1)}, "lookback must not be negative"),
        ({"schedule_lookback_days": -1}, "schedule_lookback_days"),
        ({"freshness_lag_days": -2}, "freshness_lag_days"),
    ],
)
def test_an_invalid_table_spec_is_refused_with_the_offending_key(changes, message):
    with pytest.raises(ConfigError, match=message):
        replace(BASE, **changes)


def test_a_complete_upsert_spec_is_accepted():
    spec = replace(
        BASE,
        mode=SyncMode.UPSERT,
        primary_key=("identity_line_item_id", "identity_time_interval"),
        watermark_column="updated_at",
        lookback=timedelta(hours=36),
        measure_column="line_item_unblended_cost",
    )
    assert spec.primary_key == ("identity_line_item_id", "identity_time_interval")


def test_a_partition_window_is_half_open_and_keyed_by_its_first_day():
    window = PartitionWindow(date(2026, 2, 27), date(2026, 3, 2))
    assert window.days() == [date(2026, 2, 27), date(2026, 2, 28), date(2026, 3, 1)]
    assert PartitionWindow.day(date(2026, 2, 28)) == PartitionWindow(
        date(2026, 2, 28), date(2026, 3, 1)
    )
    assert window.key == "2026-02-27"


def test_the_windows_covering_some_days_are_their_runs_of_consecutive_days():
    days = [date(2026, 3, 1), date(2026, 2, 27), date(2026, 2, 28), date(2026, 3, 5)]
    assert PartitionWindow.covering(days) == [
        PartitionWindow(date(2026, 2, 27), date(2026, 3, 2)),
        PartitionWindow.day(date(2026, 3, 5)),
    ]
    assert PartitionWindow.covering([]) == []
