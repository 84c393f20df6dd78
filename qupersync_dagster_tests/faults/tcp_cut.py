"""A plain TCP relay that cuts the first connection whose replies pass a byte count.

The emulator's proxy speaks PostgreSQL's framing; the local S3 speaks HTTP, so its downloads
are cut by this relay instead: every connection is relayed byte for byte until, once, the
server's bytes on one connection pass ``cut_after``; then both ends of it are reset.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class CuttingRelay:
    def __init__(self, host: str, port: int, cut_after: int):
        self.upstream = (host, port)
        self.cut_after = cut_after
        self.cuts = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.host, self.port = self._listener.getsockname()[:2]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, replies: bool) -> None:
        relayed = 0
        try:
            while data := source.recv(65536):
                relayed += len(data)
                if replies and relayed > self.cut_after and self._take_cut():
                    sink.sendall(data[: len(data) - (relayed - self.cut_after)])
                    raise ConnectionResetError("cut")
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                # The pump of the other direction may have closed this end already.
                with contextlib.suppress(OSError):
                    end.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                    )
                end.close()

    def _take_cut(self) -> bool:
        with self._lock:
            if self.cuts:
                return False
            self.cuts = 1
            return True

    def close(self) -> None:
        self._closed = True
        self._listener.close()
