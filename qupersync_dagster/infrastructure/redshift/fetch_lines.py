"""A FETCH's rows read off the wire straight into COPY text lines.

Rows leave Redshift already rendered as COPY text (see ``row_text``) and enter PostgreSQL's COPY
as bytes, so the client has nothing to decode. What it still paid for was the driver's way of
reading them: ``redshift_connector`` reads each message with two buffered reads (its header,
then its body), logs it, dispatches it and builds a row object, and every value went through a
row list before it became a line -- about 4 microseconds of Python per row, most of the client's
work in a sync.

``fetch_lines`` runs the FETCH through the driver as usual (its statement cache, its Bind and
Execute) but takes over reading the reply: the socket is read in large chunks, each whole DataRow
is cut into its line where it lies, and every other message (BindComplete, CommandComplete,
ErrorResponse, ReadyForQuery, notices) goes to the driver's own handler, so the connection's
state is exactly what the driver itself would leave. Reading stops at a message boundary at or
after ReadyForQuery, so nothing of a later reply is consumed.

A row whose spill items are all NULL (nearly every row; see ``row_text``) is its rendered groups
joined by tabs. A row that carries a spilled value is spliced as ``copy_lines`` does for UNLOAD.
"""

from __future__ import annotations

import struct
from typing import Any

import redshift_connector
from redshift_connector.core import DATA_ROW, READY_FOR_QUERY

from qupersync_dagster.infrastructure.redshift.copy_lines import spliced
from qupersync_dagster.infrastructure.redshift.row_text import RowLayout

_CHUNK = 256 * 1024  # one socket read takes what has arrived, up to this much
_HEADER = struct.Struct("!cI")  # message type, length of the rest including these 4 bytes
_COUNT = struct.Struct("!h")
_LENGTH = struct.Struct("!i")
_NULL = b"\xff\xff\xff\xff"  # a value's length of -1: SQL NULL
_CLOSED = (
    "BrokenPipe: server socket closed while a FETCH's rows were read. Check that client side "
    "networking configurations such as proxies, firewalls and VPNs are not affecting the "
    "connection."
)


def fetch_lines(
    conn: redshift_connector.Connection,
    cursor: redshift_connector.Cursor,
    statement: str,
    layout: RowLayout,
) -> tuple[bytes, int]:
    """Run ``statement`` (a FETCH) on ``cursor``; its rows as COPY text lines, and how many."""
    reader = _LineReader(conn, layout)
    # The driver reads an executed statement's reply with this method when asked to merge
    # socket reads; for the length of this FETCH it is the reader's.
    conn.handle_messages_merge_socket_read = reader  # type: ignore[method-assign]
    try:
        cursor.execute(statement, merge_socket_read=True)
    finally:
        del conn.handle_messages_merge_socket_read  # the class's own method again
    lines = reader.lines
    if not lines:
        return b"", 0
    lines.append(b"")
    return b"\n".join(lines), len(lines) - 1


class _LineReader:
    """Reads one statement's reply: DataRows into ``lines``, the rest to the driver's handlers."""

    def __init__(self, conn: Any, layout: RowLayout) -> None:
        self._conn = conn
        self._layout = layout
        self._columns = layout.groups + len(layout.spills)
        self.lines: list[bytes | bytearray] = []

    def __call__(self, cursor: Any) -> None:
        conn = self._conn
        conn.error = None
        handlers = conn.message_types
        readinto = conn._sock.readinto1
        header, value_length = _HEADER.unpack_from, _LENGTH.unpack_from
        append = self.lines.append
        # The common row: one rendered group, every spill item NULL. Its line is the group.
        nulls = _NULL * len(self._layout.spills) if self._layout.groups == 1 else None
        buffer = bytearray(_CHUNK)
        view = memoryview(buffer)
        filled = 0
        while True:
            if filled == len(buffer):  # one message larger than the buffer: make room for it
                view.release()
                buffer.extend(bytes(len(buffer)))
                view = memoryview(buffer)
            received = readinto(view[filled:])
            if not received:
                raise redshift_connector.InterfaceError(_CLOSED)
            filled += received
            position = 0
            while filled - position >= 5:
                code, length = header(buffer, position)
                stop = position + 1 + length
                if stop > filled:
                    break
                if code == DATA_ROW:
                    if nulls is not None:
                        size = value_length(buffer, position + 7)[0]
                        end = position + 11 + size
                        if size >= 0 and end + len(nulls) == stop and buffer.startswith(nulls, end):
                            append(buffer[position + 11 : end])
                            position = stop
                            continue
                    self._row(bytes(buffer[position + 5 : stop]))
                else:
                    handlers[code](bytes(buffer[position + 5 : stop]), cursor)
                    if code == READY_FOR_QUERY:
                        self._rest(bytes(buffer[stop:filled]), cursor)
                        if conn.error is not None:
                            raise conn.error
                        return
                position = stop
            if position:  # an unfinished message moves to the front; the next read completes it
                filled -= position
                buffer[:filled] = bytes(view[position : position + filled])

    def _row(self, body: bytes) -> None:
        """Any other DataRow body: Int16 count, then Int32 length and bytes for each value."""
        layout = self._layout
        values = _values(body)
        if len(values) != self._columns:
            raise redshift_connector.InterfaceError(
                f"a fetched row has {len(values)} values, the cursor's query selects "
                f"{self._columns}"
            )
        groups = [value for value in values[: layout.groups] if value is not None]
        if len(groups) != layout.groups:
            raise redshift_connector.InterfaceError("a fetched row's rendered group is NULL")
        line = b"\t".join(groups)
        spilled = {
            field: value
            for field, value in zip(layout.spills, values[layout.groups :], strict=True)
            if value is not None
        }
        self.lines.append(spliced(line, spilled) if spilled else line)

    def _rest(self, data: bytes, cursor: Any) -> None:
        """Messages the server sent after ReadyForQuery (a notice, a parameter status).

        They are the driver's to handle; one cut off by the chunk is read to its end, so the
        next reply starts at a message boundary.
        """
        conn = self._conn
        while data:
            if len(data) < 5:
                data += conn._read(5 - len(data))
            code, length = _HEADER.unpack_from(data)
            if len(data) < 1 + length:
                data += conn._read(1 + length - len(data))
            conn.message_types[code](data[5 : 1 + length], cursor)
            data = data[1 + length :]


def _values(body: bytes) -> list[bytes | None]:
    """Every value of a DataRow body as the bytes sent (None for SQL NULL)."""
    values: list[bytes | None] = []
    offset = 2
    for _ in range(_COUNT.unpack_from(body)[0]):
        length = _LENGTH.unpack_from(body, offset)[0]
        offset += 4
        if length < 0:
            values.append(None)
        else:
            values.append(body[offset : offset + length])
            offset += length
    if offset != len(body):
        raise redshift_connector.InterfaceError("a fetched row's values do not fill its message")
    return values
