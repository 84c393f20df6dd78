"""A throwaway ``dg`` project whose defs folder holds one QuperSyncTablesComponent instance."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

TABLES = """\
tables:
  - name: cur_line_items
    source: billing.cur_line_items
    target: cost.cur_line_items
    partition_column: line_item_usage_start_date
    start_date: "2026-08-01"
    primary_key: [identity_line_item_id, identity_time_interval]
    measure_column: line_item_unblended_cost
  - name: ledger
    source: billing.ledger
    target: cost.ledger
    partition_column: usage_start
    start_date: "2026-09-01"
    mode: upsert
    primary_key: [id]
    watermark_column: updated_at
    cron: "30 5 * * *"
summary:
  from_table: cur_line_items
  target: cost.cost_usage_summary
"""


def component_yaml(attributes: str) -> str:
    return (
        "type: qupersync_dagster.components.QuperSyncTablesComponent\n"
        + "attributes:\n"
        + textwrap.indent(attributes, "  ")
    )


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """``tmp_path`` as a dg project with package ``qs_project``; returns the instance's folder.

    The caller writes ``defs.yaml`` there. The package is importable for the test.
    """
    name = f"qs_project_{abs(hash(tmp_path)) % 10**8}"
    (tmp_path / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "0"\n\n'
        '[tool.dg]\ndirectory_type = "project"\n\n'
        f'[tool.dg.project]\nroot_module = "{name}"\n'
    )
    folder = tmp_path / name / "defs" / "tables"
    folder.mkdir(parents=True)
    (tmp_path / name / "__init__.py").write_text("")
    (tmp_path / name / "defs" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield folder
    for module in [m for m in sys.modules if m.startswith(name)]:
        del sys.modules[module]
