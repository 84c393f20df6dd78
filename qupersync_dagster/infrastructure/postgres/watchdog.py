"""A deadline for the work done on the target, connection set-up included.

libpq has no read timeout: a server, or a proxy in between, that stops answering while keeping the
TCP connection open blocks a call forever, and TCP keepalives are answered by the peer's kernel
all the same. When the deadline passes, the watchdog shuts the socket of the connection in use
down; the blocked call then fails at once, the caller sees a retryable error, and the server rolls
the transaction back when it notices the connection is gone.

The connection is only known once the pool hands it out (or SQLAlchemy has finished its own
queries on a new one), so engines made by ``connector.create_engine`` report every connection they
open or check out to the deadline active on the calling thread.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator

import sqlalchemy as sa

_active = threading.local()


class Deadline:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = False
        self._connections: list = []
        self._lock = threading.Lock()

    def watch(self, dbapi_connection) -> None:
        with self._lock:
            self._connections.append(dbapi_connection)
            expired = self.expired
        if expired:
            _sever(dbapi_connection)

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            connections = list(self._connections)
        for connection in connections:
            _sever(connection)


def _sever(dbapi_connection) -> None:
    # A duplicate descriptor shares the socket: shutting it down reaches libpq's too.
    with (
        contextlib.suppress(OSError, ValueError),
        socket.socket(fileno=os.dup(dbapi_connection.fileno())) as sock,
    ):
        sock.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[Deadline]:
    """Sever the connections this thread uses in the block if it still runs after ``seconds``.

    ``seconds`` of 0 or less sets no deadline.
    """
    watch = Deadline(seconds)
    if seconds <= 0:
        yield watch
        return
    outer = getattr(_active, "deadline", None)
    _active.deadline = watch
    timer = threading.Timer(seconds, watch.expire)
    timer.daemon = True
    timer.start()
    try:
        yield watch
    finally:
        timer.cancel()
        _active.deadline = outer


def _report(dbapi_connection, *_args) -> None:
    watch = getattr(_active, "deadline", None)
    if watch is not None:
        watch.watch(dbapi_connection)


def install(engine: sa.Engine) -> None:
    """Make ``engine``'s connections visible to the deadline of the thread that uses them."""
    # First among the connect listeners: SQLAlchemy's own first-connect queries come after.
    sa.event.listen(engine, "connect", _report, insert=True)
    sa.event.listen(engine, "checkout", _report)
