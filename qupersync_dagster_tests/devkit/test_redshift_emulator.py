"""The Redshift wire emulator, exercised with the real drivers against a real PostgreSQL."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator

import psycopg2
import pytest
import redshift_connector

from qupersync_dagster.devkit.embedded import ServerAddress
from qupersync_dagster.devkit.redshift_emulator import (
    REDSHIFT_SERVER_VERSION,
    MessageFramer,
    RedshiftWireEmulator,
    filter_startup_packet,
    rewrite_parameter_status,
)
from qupersync_dagster_tests.devkit.redshift_emulator.driver import (
    SOCKET_TIMEOUT,
    connect,
    emulator_cli,
)

pytestmark = pytest.mark.integration

ROWS = 50_000
STREAM_QUERY = "SELECT id, tag, cost FROM usage ORDER BY id"


@pytest.fixture
def emulator(pg_server: ServerAddress) -> Iterator[RedshiftWireEmulator]:
    with RedshiftWireEmulator(pg_server) as emu:
        yield emu


@pytest.fixture
def plain_proxy(pg_server: ServerAddress) -> Iterator[RedshiftWireEmulator]:
    with RedshiftWireEmulator(pg_server, rewrite=False) as proxy:
        yield proxy


@pytest.fixture
def usage_table(pg_server: ServerAddress, source_db: str) -> str:
    with contextlib.closing(pg_server.connect(source_db)) as conn, conn, conn.cursor() as cur:
        cur.execute(
            "CREATE TABLE usage AS SELECT g AS id, md5(g::text) AS tag,"
            " (g * 0.01)::numeric(12, 2) AS cost FROM generate_series(1, %s) AS g",
            (ROWS,),
        )
    return source_db


def _psycopg(proxy: RedshiftWireEmulator, server: ServerAddress, database: str):
    conn = psycopg2.connect(
        host=proxy.host,
        port=proxy.port,
        dbname=database,
        user=server.user,
        connect_timeout=5,
        options="-c statement_timeout=10000",
    )
    conn.autocommit = True
    return conn


def _select_one(conn) -> object:
    cur = conn.cursor()
    cur.execute("SELECT 1")
    return cur.fetchone()[0]


def _digest(rows: Iterable) -> tuple[int, str]:
    count, digest = 0, hashlib.sha256()
    for row in rows:
        count += 1
        digest.update(repr(tuple(row)).encode())
    return count, digest.hexdigest()


def _fetch_in_batches(conn, batch: int) -> Iterator[tuple]:
    cur = conn.cursor()
    cur.execute(f"DECLARE c CURSOR FOR {STREAM_QUERY}")
    while rows := cur.execute(f"FETCH FORWARD {batch} FROM c").fetchall():
        yield from rows
    conn.rollback()


def _message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


# -- the packet rewrites, on their own ---------------------------------------------------------


def _capture_driver_startup_packet(database: str, user: str) -> bytes:
    """What redshift_connector sends first, caught by a listener that never answers."""

    def connect(port: int) -> None:
        with contextlib.suppress(redshift_connector.Error):
            redshift_connector.connect(
                host="127.0.0.1",
                port=port,
                database=database,
                user=user,
                password="x",
                ssl=False,
                timeout=SOCKET_TIMEOUT,
            )

    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(SOCKET_TIMEOUT)
        client = threading.Thread(target=connect, args=(listener.getsockname()[1],), daemon=True)
        client.start()
        conn, _ = listener.accept()
        with conn, conn.makefile("rb") as stream:
            conn.settimeout(SOCKET_TIMEOUT)
            header = stream.read(4)
            packet = header + stream.read(struct.unpack("!i", header)[0] - 4)
    client.join(SOCKET_TIMEOUT)
    return packet


def _server_verdict(server: ServerAddress, packet: bytes) -> tuple[bytes, bytes]:
    """Send a startup packet; return the message that ends the handshake (Z or E)."""
    family, address = (
        (socket.AF_UNIX, f"{server.host}/.s.PGSQL.{server.port}")
        if server.is_unix_socket
        else (socket.AF_INET, (server.host, server.port))
    )
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(SOCKET_TIMEOUT)
        sock.connect(address)
        sock.sendall(packet)
        with sock.makefile("rb") as stream:
            while True:
                kind, length = struct.unpack("!ci", stream.read(5))
                body = stream.read(length - 4)
                if kind in (b"Z", b"E"):
                    return kind, body


def _startup_parameters(packet: bytes) -> dict[bytes, bytes]:
    fields = packet[8:-1].split(b"\0")[:-1]
    return dict(zip(fields[0::2], fields[1::2], strict=True))


def test_postgres_rejects_the_driver_startup_packet_and_accepts_the_filtered_one(
    pg_server: ServerAddress, source_db: str
) -> None:
    packet = _capture_driver_startup_packet(source_db, pg_server.user)
    assert b"client_protocol_version" in _startup_parameters(packet)

    kind, body = _server_verdict(pg_server, packet)
    assert kind == b"E"
    assert b"unrecognized configuration parameter" in body

    filtered = filter_startup_packet(packet)
    assert _startup_parameters(filtered) == {
        key: value
        for key, value in _startup_parameters(packet).items()
        if key in (b"user", b"database", b"application_name")
    }
    kind, _ = _server_verdict(pg_server, filtered)
    assert kind == b"Z"


def test_filter_keeps_standard_parameters_and_empty_values() -> None:
    body = (
        struct.pack("!i", 196608)
        + b"".join(
            k + b"\0" + v + b"\0"
            for k, v in [
                (b"user", b"alice"),
                (b"os_version", b"Linux"),
                (b"options", b""),
                (b"plugin_name", b"redshift_connector.plugin.X"),
                (b"DateStyle", b"ISO"),
            ]
        )
        + b"\0"
    )
    packet = struct.pack("!i", len(body) + 4) + body

    filtered = filter_startup_packet(packet)

    assert _startup_parameters(filtered) == {
        b"user": b"alice",
        b"options": b"",
        b"DateStyle": b"ISO",
    }
    assert struct.unpack_from("!ii", filtered) == (len(filtered), 196608)


def test_parameter_status_rewrite_touches_only_server_version() -> None:
    debian = _message(b"S", b"server_version\x0015.18 (Debian 15.18-1.pgdg120+1)\x00")
    encoding = _message(b"S", b"server_encoding\x00UTF8\x00")

    assert rewrite_parameter_status(debian) == _message(
        b"S", b"server_version\x00" + REDSHIFT_SERVER_VERSION + b"\x00"
    )
    assert rewrite_parameter_status(encoding) == encoding


def test_framer_finds_whole_messages_however_the_stream_is_split() -> None:
    messages = [
        _message(b"T", b"x" * 30),
        _message(b"D", b""),
        _message(b"D", b"y" * 300),
        _message(b"C", b"SELECT 2\x00"),
        _message(b"Z", b"I"),
    ]
    stream = b"".join(messages)
    for split in range(len(stream) + 1):
        framer, head, head_count = MessageFramer(), b"", 0
        for part in (stream[:split], stream[split:]):
            framer.feed(part)
            block, count = framer.take_messages(3 - head_count)
            head, head_count = head + block, head_count + count
        assert (head, head_count) == (b"".join(messages[:3]), 3)
        assert framer.take_messages(10) == (b"".join(messages[3:]), 2)
        assert framer.take_rest() == b""


# -- the real driver through the emulator ------------------------------------------------------


def test_driver_connects_and_queries(
    emulator: RedshiftWireEmulator, pg_server: ServerAddress, source_db: str
) -> None:
    with contextlib.closing(connect(emulator, pg_server, source_db)) as conn:
        cur = conn.cursor()
        assert _select_one(conn) == 1
        cur.execute("SELECT %s::int + 1, upper(%s)", (41, "cost"))
        assert list(cur.fetchone()) == [42, "COST"]


def test_driver_sees_redshift_version_while_queries_see_the_real_one(
    emulator: RedshiftWireEmulator, pg_server: ServerAddress, source_db: str
) -> None:
    with contextlib.closing(pg_server.connect(source_db)) as direct, direct.cursor() as cur:
        cur.execute("SHOW server_version")
        (real_version,) = cur.fetchone()
    assert real_version != REDSHIFT_SERVER_VERSION.decode()

    with contextlib.closing(connect(emulator, pg_server, source_db)) as conn:
        assert dict(conn.parameter_statuses)[b"server_version"] == REDSHIFT_SERVER_VERSION
        cur = conn.cursor()
        cur.execute("SHOW server_version")
        assert cur.fetchone()[0] == real_version


def test_cursor_fetch_loop_streams_the_same_rows_as_a_direct_read(
    emulator: RedshiftWireEmulator, pg_server: ServerAddress, usage_table: str
) -> None:
    with contextlib.closing(pg_server.connect(usage_table)) as direct, direct.cursor() as cur:
        cur.execute(STREAM_QUERY)
        expected = _digest(cur)

    with contextlib.closing(connect(emulator, pg_server, usage_table)) as conn:
        assert _digest(_fetch_in_batches(conn, 1000)) == expected
    assert expected[0] == ROWS


def test_plain_mode_passes_psycopg2_through_unchanged(
    plain_proxy: RedshiftWireEmulator, pg_server: ServerAddress, source_db: str
) -> None:
    with contextlib.closing(pg_server.connect(source_db)) as direct:
        real_version = direct.server_version
    with contextlib.closing(_psycopg(plain_proxy, pg_server, source_db)) as conn:
        assert conn.server_version == real_version
        assert _select_one(conn) == 1
    assert plain_proxy.connections_opened == 1


# -- fault switches ----------------------------------------------------------------------------


def test_cut_mid_fetch_fails_the_query_and_spares_the_next_connection(
    emulator: RedshiftWireEmulator, pg_server: ServerAddress, usage_table: str
) -> None:
    emulator.cut_after(server_messages=20_000)
    with contextlib.closing(connect(emulator, pg_server, usage_table)) as conn:
        rows = _fetch_in_batches(conn, 1000)
        assert sum(1 for _ in itertools.islice(rows, 10_000)) == 10_000
        # redshift_connector lets the socket error escape instead of wrapping it in its own.
        with pytest.raises(ConnectionResetError):
            sum(1 for _ in rows)
    assert emulator.cuts == 1

    with contextlib.closing(connect(emulator, pg_server, usage_table)) as conn:
        assert _digest(_fetch_in_batches(conn, 1000))[0] == ROWS
    assert emulator.cuts == 1


# psycopg2 in autocommit sends a bare Query; its reply to this one is RowDescription, ten
# DataRows, CommandComplete and ReadyForQuery: thirteen messages.
TEN_ROWS = "SELECT g FROM generate_series(1, 10) AS g"


@pytest.mark.parametrize(("limit", "first_query_survives"), [(12, False), (13, True)])
def test_cut_counts_whole_messages_after_the_handshake(
    plain_proxy: RedshiftWireEmulator,
    pg_server: ServerAddress,
    source_db: str,
    limit: int,
    first_query_survives: bool,
) -> None:
    plain_proxy.cut_after(server_messages=limit)
    with contextlib.closing(_psycopg(plain_proxy, pg_server, source_db)) as conn:
        cur = conn.cursor()
        if first_query_survives:
            cur.execute(TEN_ROWS)
            assert len(cur.fetchall()) == 10
        with pytest.raises(psycopg2.OperationalError):
            cur.execute(TEN_ROWS)
    assert plain_proxy.cuts == 1


@pytest.mark.parametrize("limit", [{"server_bytes": 100_000}, {"client_bytes": 10}])
def test_cut_by_byte_count(
    emulator: RedshiftWireEmulator,
    pg_server: ServerAddress,
    usage_table: str,
    limit: dict[str, int],
) -> None:
    emulator.cut_after(**limit)
    with (
        contextlib.closing(connect(emulator, pg_server, usage_table)) as conn,
        pytest.raises(ConnectionResetError),
    ):
        conn.cursor().execute(STREAM_QUERY)
    assert emulator.cuts == 1


def test_repeating_cut_hits_every_connection_until_cleared(
    plain_proxy: RedshiftWireEmulator, pg_server: ServerAddress, source_db: str
) -> None:
    plain_proxy.cut_after(client_bytes=0, once=False)
    for _ in range(2):
        with (
            contextlib.closing(_psycopg(plain_proxy, pg_server, source_db)) as conn,
            pytest.raises(psycopg2.OperationalError),
        ):
            _select_one(conn)
    assert plain_proxy.cuts == 2

    plain_proxy.clear_faults()
    with contextlib.closing(_psycopg(plain_proxy, pg_server, source_db)) as conn:
        assert _select_one(conn) == 1
    assert plain_proxy.cuts == 2


def test_stall_makes_a_client_timeout_fire_instead_of_hanging(
    emulator: RedshiftWireEmulator, pg_server: ServerAddress, usage_table: str
) -> None:
    emulator.stall_after(server_messages=500)
    with contextlib.closing(connect(emulator, pg_server, usage_table, timeout=1)) as conn:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            conn.cursor().execute(STREAM_QUERY)
        assert 1 <= time.monotonic() - started < 4
    assert emulator.cuts == 0

    with contextlib.closing(connect(emulator, pg_server, usage_table)) as conn:
        assert _select_one(conn) == 1


def test_cut_all_severs_live_connections_but_keeps_listening(
    emulator: RedshiftWireEmulator, pg_server: ServerAddress, source_db: str
) -> None:
    with (
        contextlib.closing(connect(emulator, pg_server, source_db)) as first,
        contextlib.closing(connect(emulator, pg_server, source_db)) as second,
    ):
        for conn in (first, second):
            assert _select_one(conn) == 1

        emulator.cut_all()

        for conn in (first, second):
            with pytest.raises(ConnectionError):
                _select_one(conn)
    assert emulator.cuts == 2
    with contextlib.closing(connect(emulator, pg_server, source_db)) as conn:
        assert _select_one(conn) == 1
    assert emulator.connections_opened == 3


def test_stop_closes_live_connections_and_is_idempotent(
    pg_server: ServerAddress, source_db: str
) -> None:
    emu = RedshiftWireEmulator(pg_server).start()
    assert emu.port != 0
    with contextlib.closing(connect(emu, pg_server, source_db)) as conn:
        emu.stop()
        emu.stop()

        with pytest.raises(ConnectionError):
            _select_one(conn)
    with pytest.raises(OSError), socket.create_connection((emu.host, emu.port), timeout=1):
        pass


@pytest.fixture
def emulator_process(pg_server: ServerAddress) -> Iterator[tuple[subprocess.Popen, str, int]]:
    """The CLI in its own process, with the address it reports."""
    with emulator_cli(pg_server) as process:
        yield process


def test_cli_serves_until_terminated(
    emulator_process: tuple[subprocess.Popen, str, int], pg_server: ServerAddress, source_db: str
) -> None:
    cli, host, port = emulator_process
    emu = RedshiftWireEmulator(pg_server, listen_host=host, listen_port=port)
    with contextlib.closing(connect(emu, pg_server, source_db)) as conn:
        assert _select_one(conn) == 1
    cli.send_signal(signal.SIGTERM)
    assert cli.wait(timeout=10) == 0


def test_cancel_requests_reach_the_server(
    emulator_process: tuple[subprocess.Popen, str, int], pg_server: ServerAddress, source_db: str
) -> None:
    # libpq's cancel blocks while psycopg2 holds the GIL, so the emulator must be out of process.
    _, host, port = emulator_process
    emu = RedshiftWireEmulator(pg_server, listen_host=host, listen_port=port)
    with contextlib.closing(_psycopg(emu, pg_server, source_db)) as conn:
        canceller = threading.Timer(0.3, conn.cancel)
        canceller.start()
        started = time.monotonic()
        with pytest.raises(psycopg2.errors.QueryCanceled, match="user request"):
            conn.cursor().execute("SELECT pg_sleep(8)")
        assert time.monotonic() - started < 5
        canceller.join()
        assert _select_one(conn) == 1
