"""The demo's folder, and how a second terminal finds (or does not find) a running demo."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from qupersync_dagster.demo.data import Databases
from qupersync_dagster.demo.defaults import DEFAULT_FOLDER, HOME_ENV
from qupersync_dagster.demo.home import DemoHome, DemoState, HomeInUse
from qupersync_dagster.devkit.embedded import ServerAddress


def test_the_folder_is_the_option_else_the_variable_else_dot_qupersync(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(HOME_ENV, raising=False)
    assert DemoHome.resolve().root == tmp_path / DEFAULT_FOLDER
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "from-env"))
    assert DemoHome.resolve().root == tmp_path / "from-env"
    assert DemoHome.resolve("given").root == tmp_path / "given"


def _state(pid: int) -> DemoState:
    return DemoState(
        pid=pid,
        postgres=ServerAddress("127.0.0.1", 54321, "postgres"),
        databases=Databases("src", "tgt", "dag"),
        redshift_host="127.0.0.1",
        redshift_port=5439,
        ui_url="http://127.0.0.1:3000",
    )


def test_a_running_demo_is_found_with_everything_it_saved(tmp_path):
    home = DemoHome(tmp_path)
    _state(os.getpid()).save(home)
    assert DemoState.load(home) == _state(os.getpid())


def test_the_note_of_a_demo_that_died_is_ignored(tmp_path):
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    home = DemoHome(tmp_path)
    _state(int(finished.stdout)).save(home)
    assert DemoState.load(home) is None


def test_no_note_or_a_garbled_one_means_no_demo(tmp_path):
    home = DemoHome(tmp_path)
    assert DemoState.load(home) is None
    home.state_file.write_text('{"pid": 1}')
    assert DemoState.load(home) is None


def test_one_folder_serves_one_demo_at_a_time(tmp_path):
    home = DemoHome(tmp_path / "home")
    with home.claimed(), pytest.raises(HomeInUse), home.claimed():
        pass
    with home.claimed():  # released when the first demo ends
        pass
