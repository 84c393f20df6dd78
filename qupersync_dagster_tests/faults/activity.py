"""Watch the target server to strike at a precise phase, and run syncs that may hang.

Fault positions counted in bytes or messages drift whenever a statement changes; asking the
server what a backend is doing right now (``pg_stat_activity``, ``pg_locks``) does not. The
limits below only stop a broken test from hanging the suite; no test asserts how long anything
took.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

from qupersync_dagster.devkit.embedded import ServerAddress

LIMIT_S = 60.0
_POLL_S = 0.01


def poll(server: ServerAddress, query: str, params: tuple, what: str, limit_s: float = LIMIT_S):
    """The first column of the first row ``query`` returns, polling until there is one."""
    deadline = time.monotonic() + limit_s
    with contextlib.closing(server.connect("postgres")) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            while time.monotonic() < deadline:
                cur.execute(query, params)
                row = cur.fetchone()
                if row is not None:
                    return row[0]
                time.sleep(_POLL_S)
    raise AssertionError(f"gave up waiting for {what}")


def wait_for_statement(
    server: ServerAddress, database: str, prefix: str, *, limit_s: float = LIMIT_S
) -> int:
    """The pid of the backend running a statement that starts with ``prefix`` in ``database``."""
    return poll(
        server,
        "SELECT pid FROM pg_stat_activity WHERE datname = %s AND state = 'active'"
        " AND query LIKE %s AND pid <> pg_backend_pid() LIMIT 1",
        (database, prefix.replace("%", r"\%") + "%"),
        f"a statement starting {prefix!r} in {database}",
        limit_s,
    )


def wait_for_lock_waiter(server: ServerAddress, database: str, *, limit_s: float = LIMIT_S) -> int:
    """The pid of a backend of ``database`` waiting for an advisory lock another one holds."""
    return poll(
        server,
        "SELECT l.pid FROM pg_locks AS l JOIN pg_database AS d ON d.oid = l.database"
        " WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = %s LIMIT 1",
        (database,),
        f"a backend of {database} waiting for an advisory lock",
        limit_s,
    )


def wait_until_gone(server: ServerAddress, pid: int, *, limit_s: float = LIMIT_S) -> None:
    """Until backend ``pid`` has ended (and so has released its locks)."""
    poll(
        server,
        "SELECT true WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %s)",
        (pid,),
        f"backend {pid} to end",
        limit_s,
    )


class Background:
    """Run ``function`` on a thread; ``result`` returns its value or raises its error."""

    def __init__(self, function: Callable[[], Any]):
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(function,), daemon=True)
        self._thread.start()

    def _run(self, function: Callable[[], Any]) -> None:
        try:
            self._value = function()
        except BaseException as error:  # noqa: BLE001 - handed to whoever asks for the result
            self._error = error

    def result(self, limit_s: float = LIMIT_S) -> Any:
        self._thread.join(limit_s)
        if self._thread.is_alive():
            raise AssertionError(f"the run still had not returned after {limit_s:.0f} s: hung")
        if self._error is not None:
            raise self._error
        return self._value
