"""``qupersync doctor``: connect as a sync would, check everything it needs, write nothing.

Settings come from the very resources Dagster runs with (``REDSHIFT_*``, ``POSTGRES_*``) and the
table list from ``QUPERSYNC_CONFIG``, so the doctor sees what a run will see. Passwords are never
printed: the header names hosts, databases and users only.
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime
from typing import TextIO

from dagster import DagsterInvalidConfigError

from qupersync_dagster import bootstrap
from qupersync_dagster.doctor.checks import Checks
from qupersync_dagster.doctor.report import Level, Report
from qupersync_dagster.doctor.staging import check_staging
from qupersync_dagster.doctor.tables import TableChecks
from qupersync_dagster.domain.errors import ConfigError
from qupersync_dagster.infrastructure.postgres.connector import PostgresSettings
from qupersync_dagster.infrastructure.postgres.diagnostics import PostgresDiagnostics
from qupersync_dagster.infrastructure.redshift.connector import RedshiftSettings, connect
from qupersync_dagster.infrastructure.redshift.diagnostics import RedshiftDiagnostics
from qupersync_dagster.infrastructure.table_list import TableList, configured_path, load_table_list

CONFIG = "configuration"
_UNSET = re.compile(r'environment variable "(\w+)" which is not set')


def _configuration(report: Report) -> tuple[RedshiftSettings, PostgresSettings, str] | None:
    """The Redshift and PostgreSQL settings and the state schema, as Dagster resolves them."""
    from qupersync_dagster.definitions import resources

    resolved, missing = {}, set()
    for name, resource in resources().items():
        try:
            resolved[name] = resource.process_config_and_initialize()
        except DagsterInvalidConfigError as error:
            missing.update(_UNSET.findall(str(error)) or [f"a {name} setting"])
    if missing:
        report.add(
            Level.PROBLEM,
            CONFIG,
            f"the connection settings are incomplete: {', '.join(sorted(missing))} not set",
            "set every REDSHIFT_* and POSTGRES_* variable the README lists",
        )
        return None
    postgres = resolved["postgres"].settings()
    return resolved["redshift"].settings(), postgres, postgres.state_schema


def _header(redshift: RedshiftSettings, postgres: PostgresSettings) -> list[str]:
    ssl = f"SSL {redshift.sslmode}" if redshift.ssl else "SSL off"
    return [
        f"Redshift:   {redshift.host}:{redshift.port}/{redshift.database} as {redshift.user} "
        f"({ssl})",
        f"PostgreSQL: {postgres.host}:{postgres.port}/{postgres.database} as {postgres.user} "
        f"(sslmode {postgres.sslmode})",
    ]


def examine(
    table_list: TableList,
    redshift: RedshiftSettings,
    postgres: PostgresSettings,
    state_schema: str,
    report: Report,
) -> None:
    """Run every check against the configured servers, adding findings to ``report``."""
    source = RedshiftDiagnostics(lambda: connect(redshift), redshift.fetch_size)
    with contextlib.closing(source), bootstrap.open_engine(postgres) as engine:
        checks = Checks(
            source=source,
            target=PostgresDiagnostics(engine, postgres.timeout_s),
            database=redshift.database,
            user=redshift.user,
            fetch_size=redshift.fetch_size,
            today=datetime.now(UTC).date(),
            report=report,
        )
        source_ok = checks.cluster()
        check_staging(redshift, table_list, report)
        target_ok = checks.state_table(state_schema)
        for spec in table_list.tables:
            TableChecks(checks, spec).run(source_ok, target_ok)


def run(out: TextIO) -> int:
    """The whole command: 0 when nothing is wrong, 1 when any problem was found."""
    report = Report()
    print(f"QuperSync doctor (table list: {configured_path()})", file=out)
    try:
        table_list = load_table_list()
        configuration = _configuration(report)
    except ConfigError as error:
        report.add(
            Level.PROBLEM, CONFIG, str(error), "fix the table list named by QUPERSYNC_CONFIG"
        )
        configuration = None
    if configuration is not None:
        for line in _header(*configuration[:2]):
            print(line, file=out)
        examine(table_list, *configuration, report)
    for line in report.lines():
        print(line, file=out)
    return 1 if report.problems else 0
