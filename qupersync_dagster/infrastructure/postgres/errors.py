"""Turn psycopg2 failures into the domain's errors.

The server's message names the column and the kind of bad value; the offending value itself is
left out (it may be large or sensitive), and connection details never appear.
"""

from __future__ import annotations

import re

import psycopg2
import sqlalchemy as sa
from psycopg2 import errors as pg_errors

from qupersync_dagster.domain.errors import DataError, QuperSyncError, TargetUnavailableError

_COPY_CONTEXT = re.compile(r"COPY [^,]+, line (?P<line>\d+)(?:, column (?P<column>[^:]+))?")
_KEY_DETAIL = re.compile(r"Key \((?P<columns>.+?)\)=\(")


def translate(error: Exception, table: str, partition: str | None = None) -> Exception:
    """The domain error for ``error`` raised while writing ``table`` (and its ``partition``)."""
    if isinstance(error, QuperSyncError):
        return error
    original = error
    if isinstance(error, sa.exc.DBAPIError) and error.orig is not None:
        # SQLAlchemy wraps the driver's error; a failed rollback after a cut raises one too.
        error = error.orig
    where = _where(table, partition)
    outcome = "the partition was rolled back" if partition else "nothing was written"
    if isinstance(error, pg_errors.QueryCanceled | pg_errors.LockNotAvailable):
        return TargetUnavailableError(
            f"{where}: the target cancelled the statement ({_primary(error)}); {outcome}"
        )
    if isinstance(error, psycopg2.OperationalError | psycopg2.InterfaceError):
        return TargetUnavailableError(
            f"{where}: lost the target connection ({type(error).__name__}); {outcome}"
        )
    if partition and isinstance(error, psycopg2.DataError | psycopg2.IntegrityError):
        diag = error.diag
        context = _COPY_CONTEXT.search(diag.context or "")
        column = diag.column_name or (context.group("column") if context else None)
        detail = []
        if context:
            detail.append(f"row {context.group('line')} of the partition's batch")
        if isinstance(error, pg_errors.UniqueViolation) and diag.message_detail:
            detail.append(diag.message_detail)
            key = _KEY_DETAIL.match(diag.message_detail)
            column = column or (key.group("columns") if key else None)
        return DataError(table, partition, column, _primary(error), "; ".join(detail))
    return original


def unanswered(seconds: float, table: str, partition: str | None = None) -> TargetUnavailableError:
    """The error for work on ``table`` that the client deadline of ``seconds`` cut off."""
    return TargetUnavailableError(
        f"{_where(table, partition)}: the target did not answer within {seconds:g} s "
        "(timeout_s), so the connection was severed; nothing was committed"
    )


def _where(table: str, partition: str | None) -> str:
    return f"table {table!r}" + (f", partition {partition}" if partition else "")


def _primary(error: Exception) -> str:
    """The server's message without the quoted value it sometimes ends with."""
    message = getattr(getattr(error, "diag", None), "message_primary", None) or str(error)
    return message.split(': "', 1)[0].strip()
