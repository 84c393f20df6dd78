"""The YAML table list is the first thing a new user edits, and the first thing they get wrong.

Every mistake must stop the load with a message naming the entry and the key, and nothing that
could smuggle SQL into a statement may get through.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from qupersync_dagster.domain.entities import ExtractMethod, SchemaPolicy, SyncMode, TableRef
from qupersync_dagster.domain.errors import ConfigError
from qupersync_dagster.infrastructure.table_list import (
    CONFIG_ENV,
    configured_path,
    default_path,
    load_table_list,
)

ENTRY = {
    "name": "cur",
    "source": "billing.cur_line_items",
    "target": "cost.cur_line_items",
    "partition_column": "line_item_usage_start_date",
    "start_date": "2026-08-01",
}


def _write(tmp_path: Path, document) -> Path:
    path = tmp_path / "tables.yaml"
    text = document if isinstance(document, str) else yaml.safe_dump(document)
    path.write_text(text)
    return path


def _load(tmp_path: Path, **changes):
    entry = {k: v for k, v in {**ENTRY, **changes}.items() if v is not None}
    return load_table_list(_write(tmp_path, {"tables": [entry]}))


def test_the_shipped_example_loads(monkeypatch):
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    tables = load_table_list()
    assert configured_path() == default_path()
    assert [spec.name for spec in tables.tables] == [
        "cur_line_items",
        "focus_costs",
        "coh_recommendations",
    ]
    assert tables.summary is not None and tables.summary.from_table == "cur_line_items"


def test_the_environment_names_the_table_list(monkeypatch, tmp_path):
    path = _write(tmp_path, {"tables": [ENTRY]})
    monkeypatch.setenv(CONFIG_ENV, str(path))
    assert [spec.name for spec in load_table_list().tables] == ["cur"]


def test_a_minimal_entry_gets_the_documented_defaults(tmp_path):
    (spec,) = _load(tmp_path).tables
    assert spec.source == TableRef("billing", "cur_line_items")
    assert spec.start_date == date(2026, 8, 1)
    assert spec.mode is SyncMode.REPLACE
    assert spec.schema_policy is SchemaPolicy.EVOLVE
    assert spec.primary_key == () and spec.lookback == timedelta(0)
    assert spec.extract is ExtractMethod.AUTO and spec.unload_above_mb == 256


def test_the_extraction_method_and_its_threshold_are_read(tmp_path):
    (spec,) = _load(tmp_path, extract="unload", unload_above_mb=1024).tables
    assert spec.extract is ExtractMethod.UNLOAD
    assert spec.unload_above_mb == 1024


def test_a_full_upsert_entry_is_read_key_by_key(tmp_path):
    (spec,) = _load(
        tmp_path,
        mode="upsert",
        primary_key=["identity_line_item_id", "identity_time_interval"],
        watermark_column="updated_at",
        lookback="36h",
        measure_column="line_item_unblended_cost",
        schema_policy="fail",
        owners="team:finops",
        tags={"domain": "finops", "tier": 1},
    ).tables
    assert spec.mode is SyncMode.UPSERT
    assert spec.primary_key == ("identity_line_item_id", "identity_time_interval")
    assert spec.lookback == timedelta(hours=36)
    assert spec.schema_policy is SchemaPolicy.FAIL
    assert spec.owners == ("team:finops",)
    assert spec.tags == {"domain": "finops", "tier": "1"}


@pytest.mark.parametrize(
    ("changes", "key", "message"),
    [
        ({"sink": "x"}, "sink", r"unknown key\(s\) \['sink'\]"),
        ({"partition_column": None}, "partition_column", r"missing required key"),
        ({"mode": "merge"}, "mode", r"expected one of replace, upsert, got 'merge'"),
        ({"mode": "upsert"}, "upsert", r"mode 'upsert' needs a primary_key"),
        ({"schema_policy": "ignore"}, "schema_policy", r"expected one of evolve, fail"),
        ({"source": "billing.cur; DROP TABLE x"}, "source", r"not a plain SQL identifier"),
        ({"target": "cost.cur_line_items;--"}, "target", r"not a plain SQL identifier"),
        ({"source": "cur_line_items"}, "source", r"expected 'schema.table'"),
        ({"partition_column": 'a"b'}, "partition_column", r"not a plain SQL identifier"),
        ({"measure_column": "cost) --"}, "measure_column", r"not a plain SQL identifier"),
        ({"name": "cur items"}, "name", r"not a plain SQL identifier"),
        ({"primary_key": ["id", "x; DROP"]}, "primary_key", r"not a plain SQL identifier"),
        ({"primary_key": 5}, "primary_key", r"expected a list of names"),
        ({"start_date": "2026-13-01"}, "start_date", r"expected a date like"),
        ({"lookback": "a while"}, "lookback", r"expected seconds or a duration"),
        ({"tags": ["finops"]}, "tags", r"tags"),
        ({"extract": "copy"}, "extract", r"expected one of cursor, unload, auto, got 'copy'"),
        ({"unload_above_mb": -5}, "unload_above_mb", r"unload_above_mb must not be negative"),
    ],
)
def test_a_bad_entry_is_refused_naming_the_entry_and_the_key(tmp_path, changes, key, message):
    with pytest.raises(ConfigError, match=message) as raised:
        _load(tmp_path, **changes)
    text = str(raised.value)
    assert "entry 0" in text
    assert key in text


def test_a_duplicate_table_name_is_refused(tmp_path):
    path = _write(tmp_path, {"tables": [ENTRY, ENTRY]})
    with pytest.raises(ConfigError, match=r"duplicate table name\(s\) \['cur'\]"):
        load_table_list(path)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("tables: [", "not valid YAML"),
        ("- just a list", "expected a top-level 'tables:' list"),
        ({"tables": [ENTRY], "sumary": {}}, r"unknown top-level key\(s\) \['sumary'\]"),
        ({"tables": ["cur"]}, "entry 0: expected a mapping of keys"),
        (
            {"tables": [ENTRY], "summary": {"from_table": "other", "target": "cost.summary"}},
            "from_table must name a configured table",
        ),
        (
            {"tables": [ENTRY], "summary": {"from_table": "cur", "target": "cost.s; DROP"}},
            "summary: target",
        ),
    ],
)
def test_a_malformed_document_is_refused_with_its_path(tmp_path, document, message):
    path = _write(tmp_path, document)
    with pytest.raises(ConfigError, match=message) as raised:
        load_table_list(path)
    assert str(path) in str(raised.value)


def test_a_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read table list"):
        load_table_list(tmp_path / "absent.yaml")
