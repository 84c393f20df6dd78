"""``dg`` works on QuperSync: it finds the component, checks the project, launches a range.

Each test runs the real ``dg`` command line of the test environment in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest

from qupersync_dagster_tests.components.conftest import TABLES, component_yaml
from qupersync_dagster_tests.tables import day_digest

REPOSITORY = Path(__file__).resolve().parents[2]
DG = str(Path(sys.executable).parent / "dg")
COMPONENT = "qupersync_dagster.components.QuperSyncTablesComponent"
SOURCE = "billing.cur_line_items"


def _dg(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [DG, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def dagster_home(tmp_path) -> dict:
    """An environment with a fresh, empty instance, so no repository dagster.yaml applies."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return dict(os.environ, DAGSTER_HOME=str(home))


def test_dg_lists_the_component_and_checks_the_projects_definitions(dagster_home):
    listed = _dg("list", "components", "--json", cwd=REPOSITORY, env=dagster_home)
    assert listed.returncode == 0, listed.stderr[-3000:]
    assert COMPONENT in {entry["key"] for entry in json.loads(listed.stdout)["items"]}

    checked = _dg("check", "defs", cwd=REPOSITORY, env=dagster_home)
    assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-3000:]


def test_dg_check_yaml_names_file_line_and_key_of_a_bad_entry(project):
    bad = TABLES.replace("    mode: upsert", "    mode: mirror").replace(
        "partition_column: usage_start", "partition_colum: usage_start"
    )
    (project / "defs.yaml").write_text(component_yaml(bad))
    lines = (project / "defs.yaml").read_text().splitlines()
    mode_line = 1 + next(i for i, line in enumerate(lines) if "mode: mirror" in line)
    typo_line = 1 + next(i for i, line in enumerate(lines) if "partition_colum:" in line)

    checked = _dg("check", "yaml", cwd=project.parents[2])

    assert checked.returncode == 1
    output = checked.stdout + checked.stderr
    defs_yaml = project / "defs.yaml"
    assert f"{defs_yaml}:{mode_line} - {COMPONENT} attributes.tables.1.mode" in output
    assert f"{defs_yaml}:{typo_line} - {COMPONENT} attributes.tables.1.partition_colum" in output
    assert "'partition_colum' was unexpected" in output


@pytest.mark.integration
def test_dg_launch_of_a_partition_range_records_each_days_own_row_count(
    dagster_home, sync_env, table_list_file, cur_source, pg_server, monkeypatch
):
    first, last = date(2026, 10, 1), date(2026, 10, 3)
    env = dagster_home | sync_env | {"QUPERSYNC_CONFIG": str(table_list_file)}

    launched = _dg(
        "launch",
        "--assets",
        "cur_line_items",
        "--partition-range",
        f"{first}...{last}",
        cwd=REPOSITORY,
        env=env,
    )

    assert launched.returncode == 0, launched.stdout[-3000:] + launched.stderr[-3000:]
    assert sync_env["REDSHIFT_PASSWORD"] not in launched.stdout + launched.stderr
    monkeypatch.setenv("DAGSTER_HOME", env["DAGSTER_HOME"])
    instance = dg.DagsterInstance.get()
    records = instance.fetch_materializations(dg.AssetKey("cur_line_items"), limit=10).records
    by_day = {r.partition_key: r.asset_materialization.metadata for r in records}
    days = [(first + timedelta(days=i)).isoformat() for i in range(3)]
    assert sorted(by_day) == days
    assert len(instance.get_runs()) == 1
    for day in days:
        [rows, _] = day_digest(pg_server, sync_env["REDSHIFT_DATABASE"], SOURCE, day)
        assert by_day[day]["dagster/row_count"].value == rows
        assert by_day[day]["rows_extracted"].value == rows


def test_dg_scaffold_defs_adds_an_instance_that_loads_the_configured_table_list(
    project, tmp_path, monkeypatch
):
    root = project.parents[2]

    scaffolded = _dg("scaffold", "defs", COMPONENT, "my_tables", cwd=root)

    assert scaffolded.returncode == 0, scaffolded.stdout[-3000:] + scaffolded.stderr[-3000:]
    defs_yaml = project.parent / "my_tables" / "defs.yaml"
    assert defs_yaml.read_text().startswith(f"type: {COMPONENT}")
    (tmp_path / "tables.yaml").write_text(TABLES)
    monkeypatch.setenv("QUPERSYNC_CONFIG", str(tmp_path / "tables.yaml"))
    defs = dg.load_from_defs_folder(path_within_project=project)
    assert {s.name for s in defs.schedules or []} == {"cur_line_items_schedule", "ledger_schedule"}
