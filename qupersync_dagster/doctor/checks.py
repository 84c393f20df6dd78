"""The doctor's checks of the two servers: the cluster's shape and the target's rights.

Each check reads; none writes (no DDL, no sync state). A failing check becomes a finding and the
doctor moves on, so one run names every problem. When a side cannot be reached at all, its
remaining checks are skipped: each would only repeat the same connection failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from qupersync_dagster.doctor.report import Level, Report
from qupersync_dagster.domain.entities import TableRef
from qupersync_dagster.infrastructure.postgres.diagnostics import PostgresDiagnostics, TableAccess
from qupersync_dagster.infrastructure.redshift.diagnostics import RedshiftDiagnostics
from qupersync_dagster.infrastructure.redshift.sql import SINGLE_NODE_FETCH_LIMIT

CLUSTER = "cluster"
TARGET = "target"
STATE_TABLE = "sync_state"


class Failed(Exception):
    """A check could not get its answer; the finding is already in the report."""


def error_text(error: Exception) -> str:
    """What went wrong, in the server's words where it sent some (never connection secrets)."""
    fields = error.args[0] if error.args else None
    if isinstance(fields, dict):  # redshift_connector passes the server's fields as a dict
        return fields.get("M") or type(error).__name__
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@dataclass
class Checks:
    """What every check shares: both servers, the settings that matter, and the report."""

    source: RedshiftDiagnostics
    target: PostgresDiagnostics
    database: str  # the Redshift database the catalogue is searched in
    user: str  # the Redshift user whose grants are checked
    fetch_size: int
    today: date
    report: Report

    @property
    def target_user(self) -> str:
        return self.target.engine.url.username or "the target user"

    def ask(self, subject: str, what: str, remedy: str, question: Callable[..., Any], *args):
        """``question(*args)``; on failure a problem naming ``what`` and ``Failed`` is raised."""
        try:
            return question(*args)
        except Exception as error:  # noqa: BLE001 - every failure becomes a named finding
            self.report.add(Level.PROBLEM, subject, f"{what}: {error_text(error)}", remedy)
            raise Failed from error

    def cluster(self) -> bool:
        """Node count and the FETCH limit a sync uses; False when Redshift cannot be read."""
        remedy = "check REDSHIFT_HOST, _PORT, _DATABASE, _USER, _PASSWORD, _SSL and _SSLMODE"
        try:
            limit = self.ask(CLUSTER, "cannot read the cluster", remedy, self.source.fetch_limit)
        except Failed:
            return False
        try:
            nodes = self.source.node_count()
        except Exception as error:  # noqa: BLE001 - the sync assumes a single node then, too
            nodes, why = 0, f"STV_SLICES is not readable: {error_text(error)}"
        else:
            why = "STV_SLICES shows no slices"
        if nodes > 1:
            self.report.add(Level.OK, CLUSTER, f"{nodes} nodes; {limit:,} rows per FETCH")
            return True
        shape = "single-node cluster" if nodes == 1 else f"node count unknown ({why})"
        self.report.add(
            Level.WARNING,
            CLUSTER,
            f"{shape}: Redshift refuses FETCH of more than {SINGLE_NODE_FETCH_LIMIT:,} rows on a "
            f"single node, so a sync reads {limit:,} rows per FETCH here (REDSHIFT_FETCH_SIZE is "
            f"{self.fetch_size:,}); large days take more round trips",
        )
        return True

    def state_table(self, state_schema: str) -> bool:
        """The sync state table is writable or creatable; False when the target is unreachable."""
        state = TableRef(state_schema, STATE_TABLE)
        remedy = "check POSTGRES_HOST, _PORT, _DATABASE, _USER, _PASSWORD and _SSLMODE"
        try:
            access = self.ask(
                TARGET, "cannot read the target", remedy, self.target.table_access, state
            )
        except Failed:
            return False
        if access is None:
            self.creatable(TARGET, state, "the sync state table")
        elif self.writable(TARGET, state, access):
            self.report.add(Level.OK, TARGET, f"the sync state table {state} is writable")
        return True

    def writable(self, subject: str, table: TableRef, access: TableAccess) -> bool:
        """Whether the target user may read and change ``table``'s rows; a problem if not."""
        if not access.writable:
            user = self.target_user
            self.report.add(
                Level.PROBLEM,
                subject,
                f"{user} cannot write {table}",
                f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {user}",
            )
        return access.writable

    def creatable(self, subject: str, table: TableRef, what: str) -> None:
        """The target user may create ``table``, and its schema when that does not exist."""
        user = self.target_user
        in_schema = self.ask(
            subject,
            f"cannot check rights on schema {table.schema}",
            "see the error above",
            self.target.schema_creatable_in,
            table.schema,
        )
        if in_schema is None:
            if self.target.database_creatable():
                message = f"{what} {table} and its schema will be created"
                self.report.add(Level.INFO, subject, message)
            else:
                self.report.add(
                    Level.PROBLEM,
                    subject,
                    f"{what} {table} needs schema {table.schema}, which does not exist, and "
                    f"{user} may not create schemas",
                    f"CREATE SCHEMA {table.schema} AUTHORIZATION {user}",
                )
        elif in_schema:
            self.report.add(Level.INFO, subject, f"{what} {table} will be created")
        else:
            self.report.add(
                Level.PROBLEM,
                subject,
                f"{what} {table} does not exist and {user} has no CREATE on schema {table.schema}",
                f"GRANT CREATE ON SCHEMA {table.schema} TO {user}",
            )
