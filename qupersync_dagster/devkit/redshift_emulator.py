"""Lets the real ``redshift_connector`` driver talk to a stock PostgreSQL server.

QuperSync reads Redshift through ``redshift_connector`` and nothing else, so the demo, the tests
and the benchmark must exercise that very driver, yet nobody can run Redshift locally. Redshift
speaks the PostgreSQL v3 wire protocol with two differences that make the driver and PostgreSQL
refuse each other: the driver's startup packet carries Redshift-only parameters that PostgreSQL
rejects with FATAL, and the driver cannot parse a packaged PostgreSQL's ``server_version`` (e.g.
``15.18 (Debian ...)``) where Redshift reports ``8.0.2``. A small proxy that fixes both in flight
is far cheaper than patching the driver, and keeps every other byte -- queries, cursors, result
streams -- exactly as the server sent it.

Sitting in the middle of the wire also makes it the natural place to inject network faults (cuts,
hangs) at precise protocol positions, which is how the sync's retry and resume logic is tested;
with ``rewrite=False`` the same proxy fronts the target PostgreSQL for that purpose only.

The event loop runs in a daemon thread so that synchronous callers (tests, the demo CLI) can use
the emulator as an ordinary context manager.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import struct
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

from qupersync_dagster.devkit.embedded import ServerAddress

SSL_REQUEST_CODE = 80877103
GSSENC_REQUEST_CODE = 80877104
CANCEL_REQUEST_CODE = 80877102
_ENCRYPTION_REQUESTS = (SSL_REQUEST_CODE, GSSENC_REQUEST_CODE)
REDSHIFT_SERVER_VERSION = b"8.0.2"
# Startup parameters PostgreSQL itself understands. The server would also accept any run-time
# setting here, but no client QuperSync uses sends one, and unknown names are fatal.
STANDARD_STARTUP_PARAMETERS = frozenset(
    {
        b"user",
        b"database",
        b"options",
        b"replication",
        b"application_name",
        b"client_encoding",
        b"datestyle",
        b"timezone",
        b"intervalstyle",
        b"search_path",
        b"extra_float_digits",
    }
)
_CHUNK = 256 * 1024
_CONTROL_TIMEOUT = 10.0
_MAX_STARTUP_PACKET = 10_000


def _request_code(packet: bytes) -> int:
    """The protocol version, or the special request code, of an untyped startup packet."""
    return struct.unpack_from("!i", packet, 4)[0]


def filter_startup_packet(packet: bytes) -> bytes:
    """Drop the startup parameters a stock PostgreSQL server would reject with FATAL."""
    fields = packet[8:-1].split(b"\0")[:-1]
    kept = b"".join(
        name + b"\0" + value + b"\0"
        for name, value in zip(fields[0::2], fields[1::2], strict=True)
        if name.lower() in STANDARD_STARTUP_PARAMETERS
    )
    body = packet[4:8] + kept + b"\0"
    return struct.pack("!i", len(body) + 4) + body


def rewrite_parameter_status(message: bytes) -> bytes:
    """Report ``server_version`` as Redshift does; any other ParameterStatus passes unchanged."""
    name = message[5:].split(b"\0", 1)[0]
    if name != b"server_version":
        return message
    body = name + b"\0" + REDSHIFT_SERVER_VERSION + b"\0"
    return b"S" + struct.pack("!i", len(body) + 4) + body


class MessageFramer:
    """Cuts a server-to-client stream into whole v3 messages, however the reads split them."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def take_messages(self, limit: int) -> tuple[bytes, int]:
        """Remove up to ``limit`` whole messages; return them as one block, and their number."""
        buffer, size, end, count = self._buffer, len(self._buffer), 0, 0
        while count < limit and end + 5 <= size:
            following = end + 1 + struct.unpack_from("!I", buffer, end + 1)[0]
            if following > size:
                break
            end, count = following, count + 1
        block = bytes(buffer[:end])
        del buffer[:end]
        return block, count

    def take_rest(self) -> bytes:
        """Remove everything buffered, whole messages or not."""
        rest = bytes(self._buffer)
        self._buffer.clear()
        return rest


@dataclass(frozen=True)
class _Fault:
    action: Literal["cut", "stall"]
    once: bool
    server_bytes: int | None = None
    server_messages: int | None = None
    client_bytes: int | None = None


class _Severed(Exception):
    """A fault cut the connection; unwinds the pump that tripped it."""


class _Link:
    """One client connection and its upstream twin, with the fault armed for it."""

    def __init__(
        self,
        emulator: RedshiftWireEmulator,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    ) -> None:
        self._emulator = emulator
        self._client_reader, self._client_writer = client
        self._upstream_writer: asyncio.StreamWriter | None = None
        self._ready = False
        self._fault: _Fault | None = None
        self._server_messages_left: int | None = None
        self._server_bytes_left: int | None = None
        self._client_bytes_left: int | None = None

    async def run(self) -> None:
        packet = await self._read_startup_packet()
        upstream_reader, upstream_writer = await self._emulator._open_upstream()
        self._upstream_writer = upstream_writer
        if _request_code(packet) == CANCEL_REQUEST_CODE:
            upstream_writer.write(packet)
            await upstream_writer.drain()
            await upstream_reader.read()
            return
        self._arm(self._emulator._claim_fault())
        upstream_writer.write(filter_startup_packet(packet) if self._emulator.rewrite else packet)
        pumps = [
            asyncio.ensure_future(self._pump_client()),
            asyncio.ensure_future(self._pump_server(upstream_reader)),
        ]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)

    def close(self) -> None:
        for writer in self._writers():
            writer.close()

    def abort(self) -> None:
        """Reset both sides at once, as a dropped network path would: no protocol goodbye."""
        for writer in self._writers():
            sock = writer.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()

    def _writers(self) -> list[asyncio.StreamWriter]:
        return [w for w in (self._client_writer, self._upstream_writer) if w is not None]

    async def _read_startup_packet(self) -> bytes:
        """The first untyped packet that is not an encryption request (those are declined)."""
        while True:
            header = await self._client_reader.readexactly(4)
            (length,) = struct.unpack("!i", header)
            if not 8 <= length <= _MAX_STARTUP_PACKET:
                raise ConnectionError(f"malformed startup packet of length {length}")
            packet = header + await self._client_reader.readexactly(length - 4)
            if _request_code(packet) not in _ENCRYPTION_REQUESTS:
                return packet
            self._client_writer.write(b"N")
            await self._client_writer.drain()

    def _arm(self, fault: _Fault | None) -> None:
        self._fault = fault
        if fault is not None:
            self._server_messages_left = fault.server_messages
            self._server_bytes_left = fault.server_bytes
            self._client_bytes_left = fault.client_bytes

    async def _pump_client(self) -> None:
        assert self._upstream_writer is not None
        while data := await self._client_reader.read(_CHUNK):
            left = self._client_bytes_left
            if left is not None and self._ready:
                if len(data) >= left:
                    await self._deliver_then_trip(self._upstream_writer, data[:left])
                self._client_bytes_left = left - len(data)
            self._upstream_writer.write(data)
            await self._upstream_writer.drain()

    async def _pump_server(self, upstream: asyncio.StreamReader) -> None:
        framer: MessageFramer | None = MessageFramer()
        while data := await upstream.read(_CHUNK):
            if framer is None:
                await self._forward_bytes(data)
                continue
            framer.feed(data)
            if not self._ready:
                self._client_writer.write(self._take_handshake(framer))
                if not self._ready:
                    await self._client_writer.drain()
                    continue
            if self._server_messages_left is not None:
                await self._forward_messages(framer)
            else:
                rest, framer = framer.take_rest(), None
                await self._forward_bytes(rest)

    def _take_handshake(self, framer: MessageFramer) -> bytes:
        """Whole messages up to the first ReadyForQuery, with ``server_version`` rewritten."""
        out = bytearray()
        while not self._ready:
            message, count = framer.take_messages(1)
            if not count:
                break
            if message[:1] == b"S" and self._emulator.rewrite:
                message = rewrite_parameter_status(message)
            self._ready = message[:1] == b"Z"
            out += message
        return bytes(out)

    async def _forward_messages(self, framer: MessageFramer) -> None:
        assert self._server_messages_left is not None
        block, count = framer.take_messages(self._server_messages_left)
        self._server_messages_left -= count
        if self._server_messages_left == 0:
            await self._deliver_then_trip(self._client_writer, block)
        self._client_writer.write(block)
        await self._client_writer.drain()

    async def _forward_bytes(self, data: bytes) -> None:
        left = self._server_bytes_left
        if left is not None:
            if len(data) >= left:
                await self._deliver_then_trip(self._client_writer, data[:left])
            self._server_bytes_left = left - len(data)
        self._client_writer.write(data)
        await self._client_writer.drain()

    async def _deliver_then_trip(self, writer: asyncio.StreamWriter, data: bytes) -> NoReturn:
        assert self._fault is not None
        writer.write(data)
        if self._fault.action == "stall":
            await writer.drain()
            await asyncio.get_running_loop().create_future()
        writer.transport.set_write_buffer_limits(high=0)
        await writer.drain()
        self._emulator.cuts += 1
        self.abort()
        raise _Severed


class RedshiftWireEmulator:
    """A TCP endpoint that looks like Redshift to ``redshift_connector``, backed by PostgreSQL.

    Fault switches arm connections opened after the call; ``once`` limits them to the next one.
    Counting starts after the server's first ReadyForQuery, so faults land mid-conversation and
    never in the handshake. ``connections_opened`` counts accepted TCP connections (cancel
    requests included); ``cuts`` counts connections reset by ``cut_after`` or ``cut_all``.
    """

    def __init__(
        self,
        upstream: ServerAddress,
        *,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
        rewrite: bool = True,
    ) -> None:
        self.upstream = upstream
        self.host = listen_host
        self.port = listen_port
        self.rewrite = rewrite
        self.connections_opened = 0
        self.cuts = 0
        self._links: dict[_Link, asyncio.Task[Any]] = {}
        self._fault: _Fault | None = None
        self._fault_lock = threading.Lock()
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
        self._set_fault(
            _Fault(
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
        self._set_fault(_Fault("stall", once, server_messages=server_messages))

    def cut_all(self) -> None:
        """Reset every live connection now; counts towards ``cuts``."""
        if self._loop is not None:
            self._call(self._sever_all(count=True))

    def clear_faults(self) -> None:
        self._set_fault(None)

    def _set_fault(self, fault: _Fault | None) -> None:
        with self._fault_lock:
            self._fault = fault

    def _claim_fault(self) -> _Fault | None:
        with self._fault_lock:
            fault = self._fault
            if fault is not None and fault.once:
                self._fault = None
            return fault

    def _call(self, coroutine: Coroutine[Any, Any, None]) -> None:
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(_CONTROL_TIMEOUT)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, limit=_CHUNK)
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

    async def _open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        upstream = self.upstream
        if upstream.is_unix_socket:
            path = f"{upstream.host}/.s.PGSQL.{upstream.port}"
            return await asyncio.open_unix_connection(path, limit=_CHUNK)
        return await asyncio.open_connection(upstream.host, upstream.port, limit=_CHUNK)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections_opened += 1
        link = _Link(self, (reader, writer))
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Serve a PostgreSQL server to redshift_connector as if it were Redshift."
    )
    parser.add_argument("--upstream-host", required=True, help="host or Unix socket directory")
    parser.add_argument("--upstream-port", type=int, required=True)
    parser.add_argument("--port", type=int, default=5439)
    parser.add_argument("--listen-host", default="127.0.0.1")
    args = parser.parse_args(argv)

    done = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: done.set())
    upstream = ServerAddress(host=args.upstream_host, port=args.upstream_port, user="")
    with RedshiftWireEmulator(
        upstream, listen_host=args.listen_host, listen_port=args.port
    ) as emulator:
        print(
            f"Redshift wire emulator listening on {emulator.host}:{emulator.port}, "
            f"forwarding to {upstream.host}:{upstream.port}",
            flush=True,
        )
        done.wait()


if __name__ == "__main__":
    main()
