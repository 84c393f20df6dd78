"""One UNLOAD in flight on a link: the server's COPY stream in, Redshift's reply out.

The server runs ``COPY (query) TO STDOUT`` in the client's own session (see ``unload``). The
emulator keeps its CopyOutResponse, CopyData and CopyDone from the client, writes the rows to S3
(``unload_files``, in worker threads: awaiting them holds the server's stream back, so memory
stays bounded), and answers the CommandComplete as Redshift does: an INFO notice ``UNLOAD
completed, N record(s) unloaded successfully.`` and the tag ``UNLOAD``.

When S3 fails (or a fault says so) the client gets an ErrorResponse in place of the tag. The
server knows nothing of that failure, so inside a transaction block the emulator then runs a
statement that raises on the server: the transaction is aborted, as a failed UNLOAD aborts it on
a cluster, and the client sees the server's own ReadyForQuery status.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import psycopg2

from qupersync_dagster.devkit.redshift_emulator.protocol import (
    command_complete,
    error_response,
    notice_response,
    with_query_text,
)
from qupersync_dagster.devkit.redshift_emulator.screening import Refusal
from qupersync_dagster.devkit.redshift_emulator.strict import refusal_statement
from qupersync_dagster.devkit.redshift_emulator.unload import Unload
from qupersync_dagster.devkit.redshift_emulator.unload_files import (
    UnloadFiles,
    describe,
    s3_refusal,
)

if TYPE_CHECKING:
    from qupersync_dagster.devkit.redshift_emulator.emulator import RedshiftWireEmulator

_IN_TRANSACTION = b"T"


class UnloadRun:
    """Turns the server's replies to one UNLOAD's COPY into Redshift's reply."""

    def __init__(
        self,
        emulator: RedshiftWireEmulator,
        unload: Unload,
        *,
        database: str,
        user: str,
        slices: int,
    ) -> None:
        self._emulator = emulator
        self._unload = unload
        self._database = database
        self._user = user
        self._slices = slices
        self._files: UnloadFiles | None = None
        self._lines: list[bytes] = []
        self._failure: Refusal | None = None
        self._aborting = False

    async def take(self, messages: list[bytes]) -> tuple[bytes, bytes, list[bytes] | None]:
        """Bytes for the client, bytes for the server, and the messages after the run's end.

        The last is None while the run goes on (its ReadyForQuery not yet seen).
        """
        to_client = bytearray()
        to_server = b""
        for taken, msg in enumerate(messages, start=1):
            kind = msg[:1]
            if kind == b"d":
                if self._failure is None:
                    self._lines.append(msg[5:])
                continue
            await self._flush()
            if kind == b"H":
                await self._open()
            elif kind == b"c":
                pass
            elif kind == b"C" and msg[5:].startswith(b"COPY"):
                to_client += await self._complete()
            elif kind == b"E":
                await self._discard()
                if not self._aborting:
                    to_client += msg  # the query itself failed: the server's own error
            elif kind == b"Z":
                if self._failure is not None and not self._aborting and msg[5:6] == _IN_TRANSACTION:
                    self._aborting = True
                    to_server = with_query_text(refusal_statement(self._failure, 0))
                    continue
                to_client += msg
                return bytes(to_client), to_server, messages[taken:]
            else:
                to_client += msg
        await self._flush()
        return bytes(to_client), to_server, None

    async def _open(self) -> None:
        try:
            self._files = await asyncio.to_thread(self._prepared_files)
        except Refusal as refusal:
            self._failure = refusal
        except psycopg2.Error as error:  # describing the result for VERBOSE or HEADER
            self._failure = Refusal(str(error).strip(), error.pgcode or "XX000")

    def _prepared_files(self) -> UnloadFiles:
        emulator, unload = self._emulator, self._unload
        columns = None
        if unload.verbose or unload.header:
            with contextlib.closing(emulator.own_connection(self._database, self._user)) as conn:
                columns = describe(conn, unload.query)
        try:
            client = emulator.s3_client()
        except Exception as error:
            raise s3_refusal(error) from error
        files = UnloadFiles(
            client,
            unload,
            slices=self._slices,
            cluster_region=emulator.s3_region,
            columns=columns,
            fault=emulator.claim_unload_fault(),
        )
        files.prepare()
        return files

    async def _flush(self) -> None:
        lines, self._lines = self._lines, []
        if lines and self._files is not None and self._failure is None:
            try:
                await asyncio.to_thread(self._files.write, lines)
            except Refusal as refusal:
                self._failure = refusal

    async def _complete(self) -> bytes:
        if self._failure is None and self._files is not None:
            try:
                rows = await asyncio.to_thread(self._files.finish)
            except Refusal as refusal:
                self._failure = refusal
            else:
                done = f"UNLOAD completed, {rows} record(s) unloaded successfully."
                return notice_response("INFO", done) + command_complete("UNLOAD")
        await self._discard()
        failure = self._failure or Refusal("UNLOAD wrote no files", "XX000")
        return error_response(failure.sqlstate, failure.message)

    async def _discard(self) -> None:
        files, self._files = self._files, None
        if files is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(files.abort)
