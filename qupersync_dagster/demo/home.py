"""The demo's folder, and the note a running demo leaves for a second terminal.

Everything the demo keeps lives under one folder (``.qupersync/`` in the working directory, or
``--home``): deleting it resets the demo, and a test can put it in a temporary directory. While
the demo runs, ``demo.json`` there says where its servers listen, so that ``qupersync demo
--restate`` in another terminal reaches the very databases the UI is syncing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from qupersync_dagster.demo.data import Databases
from qupersync_dagster.demo.defaults import DEFAULT_FOLDER, HOME_ENV
from qupersync_dagster.devkit.embedded import ServerAddress, process_alive


class HomeInUse(Exception):
    """Another demo runs on this folder."""


@dataclass(frozen=True)
class DemoHome:
    root: Path

    @classmethod
    def resolve(cls, folder: str | Path | None = None) -> DemoHome:
        """``folder``, else ``$QUPERSYNC_DEMO_HOME``, else ``.qupersync`` in the working folder."""
        chosen = folder or os.environ.get(HOME_ENV) or Path.cwd() / DEFAULT_FOLDER
        return cls(Path(chosen).expanduser().resolve())

    @property
    def pgdata(self) -> Path:
        return self.root / "postgres"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster"

    @property
    def table_list(self) -> Path:
        return self.root / "tables.yaml"

    @property
    def state_file(self) -> Path:
        return self.root / "demo.json"

    @contextlib.contextmanager
    def claimed(self) -> Iterator[None]:
        """Held while a demo runs here: two demos on one folder would share (and stop) a server."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / "demo.lock").open("w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise HomeInUse(str(self.root)) from None
            yield


@dataclass(frozen=True)
class DemoState:
    """Where a running demo's servers listen (no secrets: the demo's servers trust the loopback)."""

    pid: int
    postgres: ServerAddress
    databases: Databases
    redshift_host: str
    redshift_port: int
    ui_url: str

    def save(self, home: DemoHome) -> None:
        home.state_file.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, home: DemoHome) -> DemoState | None:
        """The state of the demo running on ``home``; None if none runs."""
        try:
            values = json.loads(home.state_file.read_text())
            state = cls(
                **values
                | {
                    "postgres": ServerAddress(**values["postgres"]),
                    "databases": Databases(**values["databases"]),
                }
            )
        except (OSError, ValueError, TypeError, KeyError):
            return None
        return state if process_alive(state.pid) else None
