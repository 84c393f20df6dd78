"""One client connection through the emulator and its upstream twin.

Bytes flow both ways untouched except where the emulator must act: the startup packet (made
acceptable to PostgreSQL and, in strict mode, given Redshift's hostile session defaults), the
server's handshake (``server_version``), a strict session's SQL (see ``strict``), the replies to
a strict session's UNLOAD (see ``unload_run``), and armed faults, which cut or stall the wire at
a precise protocol position.

An UNLOAD is recognised where it is prepared (a simple Query, or a Parse whose statement a later
Bind runs, as the driver reuses its prepared statements); from then until its ReadyForQuery the
server's stream is read message by message, and raw bytes flow again after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, NoReturn

from qupersync_dagster.devkit.redshift_emulator.protocol import (
    CANCEL_REQUEST_CODE,
    ENCRYPTION_REQUESTS,
    MessageFramer,
    bind_statement,
    filter_startup_packet,
    parse_parameter_count,
    parse_parts,
    query_text,
    request_code,
    rewrite_parameter_status,
    startup_parameters,
    with_parse_text,
    with_query_text,
    with_session_defaults,
)
from qupersync_dagster.devkit.redshift_emulator.screening import Refusal
from qupersync_dagster.devkit.redshift_emulator.strict import (
    StrictRules,
    refusal_statement,
    session_defaults,
)
from qupersync_dagster.devkit.redshift_emulator.unload import Unload, is_unload
from qupersync_dagster.devkit.redshift_emulator.unload import parse as parse_unload
from qupersync_dagster.devkit.redshift_emulator.unload_run import UnloadRun

if TYPE_CHECKING:
    from qupersync_dagster.devkit.redshift_emulator.emulator import RedshiftWireEmulator

CHUNK = 256 * 1024
_MAX_STARTUP_PACKET = 10_000


@dataclass(frozen=True)
class Fault:
    action: Literal["cut", "stall"]
    once: bool
    server_bytes: int | None = None
    server_messages: int | None = None
    client_bytes: int | None = None


class _Severed(Exception):
    """A fault cut the connection; unwinds the pump that tripped it."""


class Link:
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
        self._rules: StrictRules | None = emulator.strict_rules()
        self._fault: Fault | None = None
        self._server_messages_left: int | None = None
        self._server_bytes_left: int | None = None
        self._client_bytes_left: int | None = None
        self._database = self._user = ""
        self._unload_statements: dict[bytes, Unload] = {}
        self._unloads: deque[UnloadRun] = deque()

    async def run(self) -> None:
        packet = await self._read_startup_packet()
        if self._rules is not None and request_code(packet) != CANCEL_REQUEST_CODE:
            parameters = {name.lower(): value for name, value in startup_parameters(packet)}
            self._user = parameters.get(b"user", b"").decode()
            self._database = parameters.get(b"database", b"").decode() or self._user
            await self._emulator.ensure_compat(self._database, self._user)
        upstream_reader, upstream_writer = await self._emulator.open_upstream()
        self._upstream_writer = upstream_writer
        if request_code(packet) == CANCEL_REQUEST_CODE:
            upstream_writer.write(packet)
            await upstream_writer.drain()
            await upstream_reader.read()
            return
        self._arm(self._emulator.claim_fault())
        upstream_writer.write(self._upstream_startup_packet(packet))
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

    def _upstream_startup_packet(self, packet: bytes) -> bytes:
        if not self._emulator.rewrite:
            return packet
        packet = filter_startup_packet(packet)
        if self._rules is None:
            return packet
        defaults = session_defaults(self._rules.session_settings, self._rules.nodes)
        return with_session_defaults(packet, defaults)

    async def _read_startup_packet(self) -> bytes:
        """The first untyped packet that is not an encryption request (those are declined)."""
        while True:
            header = await self._client_reader.readexactly(4)
            (length,) = struct.unpack("!i", header)
            if not 8 <= length <= _MAX_STARTUP_PACKET:
                raise ConnectionError(f"malformed startup packet of length {length}")
            packet = header + await self._client_reader.readexactly(length - 4)
            if request_code(packet) not in ENCRYPTION_REQUESTS:
                return packet
            self._client_writer.write(b"N")
            await self._client_writer.drain()

    def _arm(self, fault: Fault | None) -> None:
        self._fault = fault
        if fault is not None:
            self._server_messages_left = fault.server_messages
            self._server_bytes_left = fault.server_bytes
            self._client_bytes_left = fault.client_bytes

    async def _pump_client(self) -> None:
        assert self._upstream_writer is not None
        framer = MessageFramer() if self._rules is not None else None
        while data := await self._client_reader.read(CHUNK):
            if framer is not None:
                framer.feed(data)
                data = self._under_rules(framer)
            left = self._client_bytes_left
            if left is not None and self._ready:
                if len(data) >= left:
                    await self._deliver_then_trip(self._upstream_writer, data[:left])
                self._client_bytes_left = left - len(data)
            self._upstream_writer.write(data)
            await self._upstream_writer.drain()

    def _under_rules(self, framer: MessageFramer) -> bytes:
        """The whole client messages buffered so far, their SQL rewritten by the strict rules."""
        assert self._rules is not None
        out = bytearray()
        while True:
            message, count = framer.take_messages(1)
            if not count:
                return bytes(out)
            kind = message[:1]
            if kind == b"Q":
                sql = query_text(message)
                if is_unload(sql):
                    sql = self._prepare_unload(None, sql, 0)
                else:
                    sql = self._rules.rewrite_query(sql)
                message = with_query_text(sql)
            elif kind == b"P":
                name, sql, tail = parse_parts(message)
                parameters = parse_parameter_count(tail)
                self._unload_statements.pop(name, None)
                if is_unload(sql):
                    sql = self._prepare_unload(name, sql, parameters)
                else:
                    sql = self._rules.rewrite_parse(sql, parameters)
                message = with_parse_text(name, sql, tail)
            elif kind == b"B":
                unload = self._unload_statements.get(bind_statement(message))
                if unload is not None:
                    self._unloads.append(self._unload_run(unload))
            out += message

    def _prepare_unload(self, statement: bytes | None, sql: str, parameters: int) -> str:
        """The COPY an UNLOAD runs as (its run starts now for a Query, at Bind for a Parse)."""
        try:
            unload = parse_unload(sql)
        except Refusal as refusal:
            return refusal_statement(refusal, parameters)
        if statement is None:
            self._unloads.append(self._unload_run(unload))
        else:
            self._unload_statements[statement] = unload
        return unload.copy_statement

    def _unload_run(self, unload: Unload) -> UnloadRun:
        assert self._rules is not None
        return UnloadRun(
            self._emulator,
            unload,
            database=self._database,
            user=self._user,
            slices=self._rules.slices,
        )

    async def _pump_server(self, upstream: asyncio.StreamReader) -> None:
        framer = MessageFramer()
        framing = True  # until the handshake is over, or for good with a message-count fault
        while data := await upstream.read(CHUNK):
            if self._unloads:
                framer.feed(data)
                await self._serve_unloads(framer.take_whole())
                continue
            if not framing:
                await self._forward_bytes(framer.take_rest() + data)
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
                framing = False
                await self._forward_bytes(framer.take_rest())

    async def _serve_unloads(self, messages: list[bytes]) -> None:
        """Hand the server's messages to the UNLOAD runs in order; pass on what follows them."""
        assert self._upstream_writer is not None
        while messages and self._unloads:
            to_client, to_server, rest = await self._unloads[0].take(messages)
            self._client_writer.write(to_client)
            if to_server:
                self._upstream_writer.write(to_server)
                await self._upstream_writer.drain()
            if rest is None:
                break
            self._unloads.popleft()
            messages = rest
        else:
            self._client_writer.write(b"".join(messages))
        await self._client_writer.drain()

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
