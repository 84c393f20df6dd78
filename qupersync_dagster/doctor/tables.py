"""The doctor's checks of one configured table, in the order a sync would meet them.

Visible in the catalogue, readable by this user, a schema plan without differences, a target the
user may create or change as planned, and the size of its largest day. The plan is the sync's own
pre-flight (``schema_validation.preflight``), so the doctor and a run never disagree.
"""

from __future__ import annotations

from datetime import timedelta

from qupersync_dagster.doctor.checks import Checks, Failed, error_text
from qupersync_dagster.doctor.report import Level
from qupersync_dagster.domain.entities import TableSchema, TableSpec
from qupersync_dagster.domain.services.schema_validation import SchemaPlan, preflight


class TableChecks:
    def __init__(self, checks: Checks, spec: TableSpec):
        self.checks = checks
        self.spec = spec
        self.subject = f"table {spec.name} ({spec.source} -> {spec.target})"

    def _add(self, level: Level, message: str, remedy: str = "") -> None:
        self.checks.report.add(level, self.subject, message, remedy)

    def run(self, source_ok: bool, target_ok: bool) -> None:
        """Every check of the table whose side is reachable; the first failure ends them."""
        try:
            readable = source_ok and self._readable()
            if readable and target_ok:
                schema = self._plan()
                self._largest_day(schema)
        except Failed:
            return
        except Exception as error:  # noqa: BLE001 - named in the report, the next table goes on
            self._add(Level.PROBLEM, f"the checks stopped: {error_text(error)}", "see the error")

    def _readable(self) -> bool:
        """In the catalogue for this user, USAGE on its schema and SELECT on it."""
        checks, source, ref = self.checks, self.checks.source, self.spec.source
        user = checks.user
        grant = f"GRANT USAGE ON SCHEMA {ref.schema} TO {user}; GRANT SELECT ON {ref} TO {user}"
        columns = checks.ask(
            self.subject,
            "cannot read the catalogue",
            grant,
            source.catalogue_columns,
            checks.database,
            ref,
        )
        if not columns:
            self._add(
                Level.PROBLEM,
                f"source {ref} is not in the catalogue (SVV_ALL_COLUMNS, SVV_EXTERNAL_COLUMNS) "
                f"of database {checks.database} for {user}: it does not exist, or {user} may "
                "not see it",
                f"check 'source' in the table list (QUPERSYNC_CONFIG), or {grant}",
            )
            return False
        self._add(Level.OK, f"source {ref} is in the catalogue ({columns} columns)")
        if not checks.ask(
            self.subject, "cannot check USAGE", grant, source.has_schema_usage, ref.schema
        ):
            self._add(
                Level.PROBLEM,
                f"{user} has no USAGE on schema {ref.schema}",
                f"GRANT USAGE ON SCHEMA {ref.schema} TO {user}",
            )
            return False
        try:
            selectable = source.can_select(ref)
        except Exception as error:  # noqa: BLE001 - e.g. a Spectrum table, which has no pg_class row
            self._add(
                Level.WARNING,
                f"cannot ask HAS_TABLE_PRIVILEGE about {ref} ({error_text(error)}); reading its "
                "days below shows whether SELECT is granted",
            )
            return True
        if not selectable:
            self._add(
                Level.PROBLEM,
                f"{user} has no SELECT on {ref}",
                f"GRANT SELECT ON {ref} TO {user}",
            )
            return False
        return True

    def _plan(self) -> TableSchema:
        """The sync's pre-flight: every difference a problem, every planned change a note."""
        schema, plan = self.checks.ask(
            self.subject,
            "pre-flight failed",
            "see the error above",
            preflight,
            self.checks.source,
            self.checks.target,
            self.spec,
        )
        for difference in plan.differences:
            self._add(
                Level.PROBLEM,
                f"schema difference: {difference}",
                f"change {self.spec.target} (or the source) so it can hold the source's rows; "
                f"with schema_policy 'evolve' only additive changes are made",
            )
        if plan.ok:
            changes = "; ".join(plan.changes) or "no change to the target table"
            self._add(Level.OK, f"schema plan ({len(schema.columns)} columns): {changes}")
        self._target_rights(plan)
        return schema

    def _target_rights(self, plan: SchemaPlan) -> None:
        """The target user may create the table, or alter (own) and write the existing one."""
        user, table = self.checks.target_user, self.spec.target
        access = self.checks.target.table_access(table)
        if access is None:
            self.checks.creatable(self.subject, table, "the target table")
            return
        if plan.create:  # it exists, but the catalogue hides its columns from this user
            self._add(
                Level.PROBLEM,
                f"{table} exists but {user} has no privilege on it, so its columns are hidden",
                f"ALTER TABLE {table} OWNER TO {user}",
            )
        elif (plan.added or plan.widened) and not access.owned:
            self._add(
                Level.PROBLEM,
                f"the plan changes {table}, which only its owner may alter, not {user}",
                f"ALTER TABLE {table} OWNER TO {user}",
            )
        self.checks.writable(self.subject, table, access)

    def _largest_day(self, schema: TableSchema) -> None:
        """From the fingerprint query a sync runs over the table's whole range."""
        end = self.checks.today + timedelta(days=1)
        days = self.checks.ask(
            self.subject,
            "cannot read the table's days",
            "see the error above",
            self.checks.source.fingerprints,
            self.spec,
            schema,
            self.spec.start_date,
            end,
        )
        if not days:
            self._add(
                Level.WARNING,
                f"no rows from start_date {self.spec.start_date} to today: nothing to sync yet",
            )
            return
        day, largest = max(days.items(), key=lambda item: item[1].row_count)
        self._add(
            Level.INFO,
            f"{len(days)} days with rows since {self.spec.start_date}; the largest, {day}, "
            f"has {largest.row_count:,} rows",
        )
