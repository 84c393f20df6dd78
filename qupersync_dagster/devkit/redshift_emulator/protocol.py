"""The few PostgreSQL v3 wire-protocol messages the emulator reads or rewrites.

Everything else crosses the emulator as opaque bytes; these helpers only cut a stream into whole
messages and rebuild the handful the emulator must change: the startup packet, the server's
``server_version`` report, and the SQL text of a client's Query or Parse.
"""

from __future__ import annotations

import re
import struct

SSL_REQUEST_CODE = 80877103
GSSENC_REQUEST_CODE = 80877104
CANCEL_REQUEST_CODE = 80877102
ENCRYPTION_REQUESTS = (SSL_REQUEST_CODE, GSSENC_REQUEST_CODE)
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


def request_code(packet: bytes) -> int:
    """The protocol version, or the special request code, of an untyped startup packet."""
    return struct.unpack_from("!i", packet, 4)[0]


def startup_parameters(packet: bytes) -> list[tuple[bytes, bytes]]:
    fields = packet[8:-1].split(b"\0")[:-1]
    return list(zip(fields[0::2], fields[1::2], strict=True))


def startup_packet(version: bytes, parameters: list[tuple[bytes, bytes]]) -> bytes:
    body = version + b"".join(name + b"\0" + value + b"\0" for name, value in parameters) + b"\0"
    return struct.pack("!i", len(body) + 4) + body


def filter_startup_packet(packet: bytes) -> bytes:
    """Drop the startup parameters a stock PostgreSQL server would reject with FATAL."""
    kept = [
        (name, value)
        for name, value in startup_parameters(packet)
        if name.lower() in STANDARD_STARTUP_PARAMETERS
    ]
    return startup_packet(packet[4:8], kept)


def with_session_defaults(packet: bytes, defaults: dict[str, str]) -> bytes:
    """Add ``defaults`` as startup parameters, leaving any the client chose itself.

    A startup parameter becomes the session's default: ``SET`` overrides it, ``RESET`` returns
    to it, as a cluster's parameter group or a user's ``ALTER USER ... SET`` would.
    """
    parameters = startup_parameters(packet)
    chosen = {name.lower() for name, _ in parameters}
    for name, value in parameters:
        if name.lower() == b"options":  # "-c name=value" or "--name=value" switches
            chosen.update(m.lower() for m in re.findall(rb"(?:-c\s*|--)([\w.]+)=", value))
    added = [
        (name.encode(), value.encode())
        for name, value in defaults.items()
        if name.lower().encode() not in chosen
    ]
    return startup_packet(packet[4:8], parameters + added)


def rewrite_parameter_status(message: bytes) -> bytes:
    """Report ``server_version`` as Redshift does; any other ParameterStatus passes unchanged."""
    name = message[5:].split(b"\0", 1)[0]
    if name != b"server_version":
        return message
    body = name + b"\0" + REDSHIFT_SERVER_VERSION + b"\0"
    return b"S" + struct.pack("!i", len(body) + 4) + body


def message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


def command_complete(tag: str) -> bytes:
    return message(b"C", tag.encode() + b"\0")


def error_response(sqlstate: str, text: str) -> bytes:
    return message(b"E", _fields("ERROR", sqlstate, text))


def notice_response(severity: str, text: str) -> bytes:
    return message(b"N", _fields(severity, "00000", text))


def _fields(severity: str, sqlstate: str, text: str) -> bytes:
    fields = {b"S": severity, b"V": severity, b"C": sqlstate, b"M": text}
    return b"".join(code + value.encode() + b"\0" for code, value in fields.items()) + b"\0"


def query_text(msg: bytes) -> str:
    """The SQL of a simple Query ('Q') message."""
    return msg[5:-1].decode("utf-8", "surrogateescape")


def with_query_text(sql: str) -> bytes:
    return message(b"Q", sql.encode("utf-8", "surrogateescape") + b"\0")


def parse_parts(msg: bytes) -> tuple[bytes, str, bytes]:
    """A Parse ('P') message as statement name, SQL text and its parameter-type tail."""
    name_end = msg.index(b"\0", 5)
    sql_end = msg.index(b"\0", name_end + 1)
    sql = msg[name_end + 1 : sql_end].decode("utf-8", "surrogateescape")
    return msg[5:name_end], sql, msg[sql_end + 1 :]


def bind_statement(msg: bytes) -> bytes:
    """The prepared statement a Bind ('B') message binds."""
    portal_end = msg.index(b"\0", 5)
    return msg[portal_end + 1 : msg.index(b"\0", portal_end + 1)]


def parse_parameter_count(tail: bytes) -> int:
    return struct.unpack_from("!h", tail)[0]


def with_parse_text(name: bytes, sql: str, tail: bytes) -> bytes:
    return message(b"P", name + b"\0" + sql.encode("utf-8", "surrogateescape") + b"\0" + tail)


class MessageFramer:
    """Cuts a v3 stream into whole messages, however the reads split them."""

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

    def take_whole(self) -> list[bytes]:
        """Remove every whole message buffered, each on its own (one cut of the buffer)."""
        buffer, size, end, messages = self._buffer, len(self._buffer), 0, []
        view = memoryview(buffer)
        while end + 5 <= size:
            following = end + 1 + struct.unpack_from("!I", buffer, end + 1)[0]
            if following > size:
                break
            messages.append(bytes(view[end:following]))
            end = following
        view.release()
        del buffer[:end]
        return messages

    def take_rest(self) -> bytes:
        """Remove everything buffered, whole messages or not."""
        rest = bytes(self._buffer)
        self._buffer.clear()
        return rest
