"""The component and the ``QUPERSYNC_CONFIG`` path build the very same definitions."""

from __future__ import annotations

import dagster as dg
import pytest

from qupersync_dagster.definitions import build_definitions
from qupersync_dagster.defs.connections import connections
from qupersync_dagster.domain.errors import ConfigError
from qupersync_dagster.infrastructure.table_list import load_table_list
from qupersync_dagster_tests.components.conftest import TABLES, component_yaml

PROVENANCE = {"dagster/code_references", "dagster/component_origin"}
"""What the defs-folder loader adds to everything a component builds: where it was declared."""


def _declared(metadata) -> dict:
    return {k: v for k, v in metadata.items() if k not in PROVENANCE}


def _shape(defs: dg.Definitions) -> dict:
    """Everything a user sees of a code location: assets, checks, jobs, schedules and sensors."""
    graph = defs.resolve_asset_graph()
    specs = {
        spec.key: spec._replace(metadata=_declared(spec.metadata))
        for spec in defs.resolve_all_asset_specs()
    }
    return {
        "assets": specs,
        "checks": {
            key: graph.get_check_spec(key)._replace(
                metadata=_declared(graph.get_check_spec(key).metadata)
            )
            for key in graph.asset_check_keys
        },
        "jobs": {job.name: job.selection.resolve(graph) for job in defs.jobs or []},
        "schedules": {
            s.name: (s.cron_schedule, s.job_name, s.execution_timezone, s.default_status)
            for s in defs.schedules or []
        },
        "sensors": {
            s.name: (s.job_name, s.minimum_interval_seconds, s.default_status)
            for s in defs.sensors or []
        },
    }


def _env_path_defs(tmp_path, monkeypatch) -> dg.Definitions:
    path = tmp_path / "tables.yaml"
    path.write_text(TABLES)
    monkeypatch.setenv("QUPERSYNC_CONFIG", str(path))
    return build_definitions(load_table_list())


def _component_defs(project) -> dg.Definitions:
    """The project's defs folder with the connections, as a code location holds them."""
    return dg.Definitions.merge(
        dg.load_from_defs_folder(path_within_project=project), connections()
    )


def test_inline_tables_build_what_the_environment_variable_path_builds(
    project, tmp_path, monkeypatch
):
    (project / "defs.yaml").write_text(component_yaml(TABLES))
    expected = _shape(_env_path_defs(tmp_path, monkeypatch))

    shape = _shape(_component_defs(project))

    assert shape == expected
    assert set(shape["schedules"]) == {"cur_line_items_schedule", "ledger_schedule"}
    assert dg.AssetKey(["redshift", "billing", "ledger"]) in shape["assets"]


def test_a_table_list_file_beside_defs_yaml_builds_the_same(project, tmp_path, monkeypatch):
    (project / "tables.yaml").write_text(TABLES)
    (project / "defs.yaml").write_text(component_yaml("table_list: tables.yaml\n"))
    expected = _shape(_env_path_defs(tmp_path, monkeypatch))
    monkeypatch.delenv("QUPERSYNC_CONFIG")

    assert _shape(_component_defs(project)) == expected


def test_without_attributes_the_component_reads_quper_sync_config(project, tmp_path, monkeypatch):
    (project / "defs.yaml").write_text(
        "type: qupersync_dagster.components.QuperSyncTablesComponent\n"
    )
    expected = _shape(_env_path_defs(tmp_path, monkeypatch))

    assert _shape(_component_defs(project)) == expected


def test_the_shipped_dg_project_builds_what_the_shipped_code_location_builds(monkeypatch):
    monkeypatch.delenv("QUPERSYNC_CONFIG", raising=False)
    from qupersync_dagster import definitions, dg_project

    expected, shape = _shape(definitions.defs), _shape(dg_project.defs)

    assert shape == expected
    assert (
        set(dg_project.defs.resources or {})
        == set(definitions.defs.resources or {})
        == {
            "redshift",
            "postgres",
        }
    )


def _config_error(project) -> ConfigError:
    """The ConfigError behind the loader's report of a component that failed to build."""
    with pytest.raises(Exception) as raised:
        _component_defs(project)
    error: BaseException | None = raised.value
    while error is not None and not isinstance(error, ConfigError):
        error = error.__cause__ or error.__context__
    assert error is not None, raised.value
    return error


def test_a_table_named_twice_is_refused_naming_the_defs_yaml(project):
    twice = TABLES.replace("name: ledger", "name: cur_line_items")
    (project / "defs.yaml").write_text(component_yaml(twice))

    error = str(_config_error(project))

    assert error.startswith(f"{project / 'defs.yaml'}: ")
    assert error.endswith("duplicate table name(s) ['cur_line_items']")


def test_tables_and_a_table_list_together_are_refused(project):
    (project / "defs.yaml").write_text(component_yaml(TABLES + "table_list: tables.yaml\n"))

    assert "either tables or table_list, not both" in str(_config_error(project))
