"""The Redshift wire emulator's endpoint: a TCP listener, its links, and the fault switches.

See the package docstring for what the emulator is and for the strict-mode switches.

The event loop runs in a daemon thread so that synchronous callers (tests, the demo CLI) can use
the emulator as an ordinary context manager.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Coroutine, Mapping
from dataclasses import replace
from typing import Any, Generic, Protocol, TypeVar

import psycopg2

from qupersync_dagster.devkit.embedded import ServerAddress
from qupersync_dagster.devkit.local_s3 import S3Endpoint
from qupersync_dagster.devkit.redshift_emulator import compat
from qupersync_dagster.devkit.redshift_emulator.link import CHUNK, Fault, Link
from qupersync_dagster.devkit.redshift_emulator.strict import (
    HOSTILE_SESSION_DEFAULTS,
    StrictRules,
)
from qupersync_dagster.devkit.redshift_emulator.unload_files import UnloadFault

log = logging.getLogger(__name__)
_CONTROL_TIMEOUT = 10.0


class _OneShot(Protocol):
    @property
    def once(self) -> bool: ...


_F = TypeVar("_F", bound=_OneShot)


class _Armed(Generic[_F]):
    """The fault armed for what opens next; a ``once`` fault is claimed by one only."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fault: _F | None = None

    def arm(self, fault: _F | None) -> None:
        with self._lock:
            self._fault = fault

    def claim(self) -> _F | None:
        with self._lock:
            fault = self._fault
            if fault is not None and fault.once:
                self._fault = None
            return fault


class RedshiftWireEmulator:
    """A TCP endpoint that looks like Redshift to ``redshift_connector``, backed by PostgreSQL.

    Fault switches arm connections opened after the call; ``once`` limits them to the next one.
    Counting starts after the server's first ReadyForQuery, so faults land mid-conversation and
    never in the handshake. ``connections_opened`` counts accepted TCP connections (cancel
    requests included); ``cuts`` counts connections reset by ``cut_after`` or ``cut_all``.

    ``strict``, ``single_node``, ``cursor_bytes_cap`` and ``session_settings`` (startup
    parameters of strict sessions; ``{}`` keeps the server's own) may be changed between
    connections: a connection keeps the rules it opened with. ``rewrite=False`` makes a plain
    byte proxy, never strict.

    ``s3`` is where a strict session's UNLOAD writes (endpoint, region -- the cluster's own --
    and credentials of the emulator's boto3 client); without it an UNLOAD fails as S3 would.
    The ``*_unload*`` switches fault the next UNLOAD (every one unless ``once``).
    """

    def __init__(
        self,
        upstream: ServerAddress,
        *,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
        rewrite: bool = True,
        strict: bool = True,
        single_node: bool = True,
        cursor_bytes_cap: int | None = None,
        session_settings: Mapping[str, str] = HOSTILE_SESSION_DEFAULTS,
        s3: S3Endpoint | None = None,
    ) -> None:
        self.upstream = upstream
        self.host = listen_host
        self.port = listen_port
        self.rewrite = rewrite
        self.strict = strict
        self.single_node = single_node
        self.cursor_bytes_cap = cursor_bytes_cap
        self.session_settings = dict(session_settings)
        self.s3 = s3
        self._s3_client: Any = None
        self._s3_lock = threading.Lock()
        self._unload_fault = _Armed[UnloadFault]()
        self._compat_databases: set[str] = set()
        self.connections_opened = 0
        self.cuts = 0
        self._links: dict[Link, asyncio.Task[Any]] = {}
        self._fault = _Armed[Fault]()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None

    def start(self) -> RedshiftWireEmulator:
        if self._loop is not None:
            return self
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="redshift-wire-emulator", daemon=True
        )
        self._thread.start()
        try:
            self._call(self._listen())
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            self._call(self._shutdown())
        finally:
            self._loop = self._thread = None
            loop.call_soon_threadsafe(loop.stop)
            thread.join(_CONTROL_TIMEOUT)
            loop.close()

    def __enter__(self) -> RedshiftWireEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def cut_after(
        self,
        *,
        server_bytes: int | None = None,
        server_messages: int | None = None,
        client_bytes: int | None = None,
        once: bool = True,
    ) -> None:
        """Reset a connection once it has forwarded this much after its startup handshake."""
        limits = [n for n in (server_bytes, server_messages, client_bytes) if n is not None]
        if len(limits) != 1 or limits[0] < 0:
            raise ValueError("give exactly one non-negative limit")
        self._fault.arm(
            Fault(
                "cut",
                once,
                server_bytes=server_bytes,
                server_messages=server_messages,
                client_bytes=client_bytes,
            )
        )

    def stall_after(self, *, server_messages: int, once: bool = True) -> None:
        """Stop relaying the server, connection left open, after this many post-startup messages."""
        if server_messages < 0:
            raise ValueError("server_messages must be non-negative")
        self._fault.arm(Fault("stall", once, server_messages=server_messages))

    def cut_all(self) -> None:
        """Reset every live connection now; counts towards ``cuts``."""
        if self._loop is not None:
            self._call(self._sever_all(count=True))

    def fail_unload_after(self, files: int, *, once: bool = True) -> None:
        """Fail the UNLOAD once ``files`` data files are written; no manifest is written."""
        if files < 0:
            raise ValueError("files must be non-negative")
        self._unload_fault.arm(UnloadFault("fail", once, files=files))

    def drop_unload_file(self, *, once: bool = True) -> None:
        """Delete the UNLOAD's first data file after writing it; the manifest still lists it."""
        self._unload_fault.arm(UnloadFault("drop", once))

    def resize_unload_file(self, *, once: bool = True) -> None:
        """Cut the UNLOAD's first data file to half its size; the manifest keeps the full size."""
        self._unload_fault.arm(UnloadFault("resize", once))

    def delay_unload(self, seconds: float, *, once: bool = True) -> None:
        """Sleep ``seconds`` after the UNLOAD's data files, before its manifest and its reply."""
        if seconds < 0:
            raise ValueError("seconds must be non-negative")
        self._unload_fault.arm(UnloadFault("delay", once, seconds=seconds))

    def clear_faults(self) -> None:
        self._fault.arm(None)
        self._unload_fault.arm(None)

    def claim_fault(self) -> Fault | None:
        return self._fault.claim()

    def claim_unload_fault(self) -> UnloadFault | None:
        return self._unload_fault.claim()

    @property
    def s3_region(self) -> str:
        """The cluster's region: a bucket elsewhere needs UNLOAD's REGION."""
        return (self.s3 or S3Endpoint()).region

    def s3_client(self) -> Any:
        """The boto3 client UNLOAD writes with (one per emulator; boto3 clients are thread-safe)."""
        with self._s3_lock:
            if self._s3_client is None:
                if self.s3 is None:
                    raise ConnectionError(
                        "no S3 endpoint: start the emulator with s3= (--s3-endpoint ...)"
                    )
                self._s3_client = self.s3.client()
            return self._s3_client

    def strict_rules(self) -> StrictRules | None:
        """The rules a connection opened now follows; None for a plain proxy."""
        if not (self.strict and self.rewrite):
            return None
        return StrictRules(self.single_node, self.cursor_bytes_cap, dict(self.session_settings))

    async def ensure_compat(self, database: str, user: str) -> None:
        """Install the compat schema in ``database`` once per emulator, before its sessions.

        A database that cannot be reached is left alone: the session itself then fails with the
        server's own error.
        """
        database = database or user
        if database in self._compat_databases:
            return
        try:
            await asyncio.to_thread(self._install_compat, database, user)
        except psycopg2.Error as error:
            log.debug("no compat schema in %s: %s", database, error)
            return
        self._compat_databases.add(database)

    def _install_compat(self, database: str, user: str) -> None:
        # As the server's own user where the emulator knows it: a cluster has its system views
        # before any user connects, and a read-only user could not create them (they are granted
        # to PUBLIC).
        with contextlib.closing(self.own_connection(database, user)) as conn:
            compat.install(conn)

    def own_connection(self, database: str, user: str) -> Any:
        """A psycopg2 connection of the emulator's own to ``database``, as the server's user.

        An emulator started without one (its command line) connects as ``user``.
        """
        return replace(self.upstream, user=self.upstream.user or user).connect(database)

    def _call(self, coroutine: Coroutine[Any, Any, None]) -> None:
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(_CONTROL_TIMEOUT)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, limit=CHUNK)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._sever_all(count=False)

    async def _sever_all(self, *, count: bool) -> None:
        links = dict(self._links)
        for link in links:
            link.abort()
        if links:
            await asyncio.wait(links.values(), timeout=_CONTROL_TIMEOUT / 2)
        if count:
            self.cuts += len(links)

    async def open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        upstream = self.upstream
        if upstream.is_unix_socket:
            path = f"{upstream.host}/.s.PGSQL.{upstream.port}"
            return await asyncio.open_unix_connection(path, limit=CHUNK)
        return await asyncio.open_connection(upstream.host, upstream.port, limit=CHUNK)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections_opened += 1
        link = Link(self, (reader, writer))
        task = asyncio.current_task()
        assert task is not None
        self._links[link] = task
        try:
            await link.run()
        except (OSError, EOFError, ValueError):
            pass  # a peer that vanished or spoke nonsense during startup just loses its link
        finally:
            del self._links[link]
            link.close()
