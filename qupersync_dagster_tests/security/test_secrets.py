"""Passwords never reach logs, exceptions, run metadata or the ``repr`` of anything.

Both passwords are set to one distinctive value (the test servers accept any password), then a
successful and two failing materialisations are run while every log record and every byte
written to stdout/stderr is captured, and the whole Dagster event log is serialised. The value
must appear nowhere; nor in ``repr``/``str`` of the resources, their settings or the engine URL.
"""

from __future__ import annotations

import logging
import traceback
from contextlib import closing

import dagster as dg
import pytest

from qupersync_dagster.definitions import build_definitions
from qupersync_dagster.defs.resources import (
    PostgresResource,
    RedshiftResource,
    open_sync_service,
)
from qupersync_dagster.domain.errors import TargetUnavailableError
from qupersync_dagster.infrastructure.postgres.connector import PostgresSettings, create_engine
from qupersync_dagster.infrastructure.redshift.connector import RedshiftSettings
from qupersync_dagster.infrastructure.table_list import load_table_list
from qupersync_dagster_tests.faults import ledger
from qupersync_dagster_tests.repositories import staging_settings

pytestmark = pytest.mark.integration

CANARY = "Pw-7f3a9c-QuperSync-canary"
TABLE_LIST = f"""
tables:
  - name: {ledger.TABLE}
    source: {ledger.SCHEMA}.{ledger.TABLE}
    target: {ledger.TARGET_SCHEMA}.{ledger.TABLE}
    partition_column: usage_start
    start_date: "{ledger.START.isoformat()}"
    primary_key: [line_id]
    measure_column: cost
"""


@pytest.fixture
def canary_env(sync_env, monkeypatch, pg_server, source_db, tmp_path):
    for name in ("REDSHIFT_PASSWORD", "POSTGRES_PASSWORD"):
        monkeypatch.setenv(name, CANARY)
    with closing(pg_server.connect(source_db)) as conn:
        ledger.create(conn)
        ledger.fill(conn, days=2, rows_per_day=50)
    path = tmp_path / "tables.yaml"
    path.write_text(TABLE_LIST)
    return path


def _materialise(config, instance) -> dg.ExecuteInProcessResult:
    asset = build_definitions(load_table_list(config)).resolve_assets_def(ledger.TABLE)
    return dg.materialize(
        [asset], instance=instance, partition_key=ledger.START.isoformat(), raise_on_error=False
    )


def _event_log(instance, run_id: str) -> str:
    records = instance.get_records_for_run(run_id, limit=10_000).records
    run = instance.get_run_by_id(run_id)
    return dg.serialize_value(run) + "".join(dg.serialize_value(r) for r in records)


def _failure_texts(result: dg.ExecuteInProcessResult) -> str:
    texts = []
    for event in result.all_events:
        if event.is_failure:
            texts.append(dg.serialize_value(event))
    return "".join(texts)


def _assert_canary_nowhere(capfd, caplog, instance, result) -> str:
    """The canary is in no output, log record or event of the run; returns the log records."""
    out, err = capfd.readouterr()
    logged = "\n".join(
        record.getMessage() + "".join(traceback.format_exception(*record.exc_info))
        if record.exc_info
        else record.getMessage()
        for record in caplog.records
    )
    for where, text in (
        ("stdout", out),
        ("stderr", err),
        ("log records", logged),
        ("event log", _event_log(instance, result.run_id)),
    ):
        assert CANARY not in text, where
    return logged


@pytest.mark.parametrize("breakage", [None, "REDSHIFT_DATABASE"], ids=["success", "failure"])
def test_no_password_in_logs_output_errors_or_the_event_log(
    breakage, canary_env, monkeypatch, capfd, caplog
):
    caplog.set_level(logging.DEBUG)
    if breakage:
        monkeypatch.setenv(breakage, "qs_no_such_database")
    instance = dg.DagsterInstance.ephemeral()

    result = _materialise(canary_env, instance)

    assert result.success is (breakage is None)
    if breakage:
        failures = _failure_texts(result)
        assert "qs_no_such_database" in failures  # the error says what is wrong...
        assert CANARY not in failures  # ...and not the secret
    logged = _assert_canary_nowhere(capfd, caplog, instance, result)
    assert len(logged) > 0 and len(_event_log(instance, result.run_id)) > 0


def test_a_raised_run_failure_carries_no_password(canary_env, monkeypatch):
    monkeypatch.setenv("REDSHIFT_DATABASE", "qs_no_such_database")
    asset = build_definitions(load_table_list(canary_env)).resolve_assets_def(ledger.TABLE)
    with pytest.raises(Exception) as failure:  # noqa: PT011 - any error: only its text matters
        dg.materialize([asset], partition_key=ledger.START.isoformat())
    text = "".join(traceback.format_exception(failure.value))
    assert "qs_no_such_database" in text
    assert CANARY not in text and CANARY not in repr(failure.value)


def test_a_target_connection_failure_carries_no_password(sync_env, canary_env, capfd, caplog):
    """The target side opens its connection before any Dagster error handling: check it bare."""
    caplog.set_level(logging.DEBUG)
    redshift = RedshiftResource(
        host=sync_env["REDSHIFT_HOST"],
        port=int(sync_env["REDSHIFT_PORT"]),
        database=sync_env["REDSHIFT_DATABASE"],
        user=sync_env["REDSHIFT_USER"],
        password=CANARY,
        ssl=False,
    )
    postgres = PostgresResource(
        host=sync_env["POSTGRES_HOST"],
        port=int(sync_env["POSTGRES_PORT"]),
        database="qs_no_such_database",
        user=sync_env["POSTGRES_USER"],
        password=CANARY,
    )
    with pytest.raises(TargetUnavailableError) as failure, open_sync_service(redshift, postgres):
        pass
    text = "".join(traceback.format_exception(failure.value))
    assert "OperationalError" in text and "qs_no_such_database" in text
    out, err = capfd.readouterr()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for where, shown in (("error", text), ("stdout", out), ("stderr", err), ("logs", logged)):
        assert CANARY not in shown, where


def test_reprs_of_resources_settings_and_engine_hide_the_password(pg_server):
    redshift = RedshiftResource(host="h", database="d", user="u", password=CANARY)
    postgres = PostgresResource(host="h", database="d", user="u", password=CANARY)
    redshift_settings = RedshiftSettings(host="h", database="d", user="u", password=CANARY)
    postgres_settings = PostgresSettings(
        host=pg_server.host, port=pg_server.port, database="postgres", user=pg_server.user,
        password=CANARY,
    )  # fmt: skip
    engine = create_engine(postgres_settings)
    try:
        with engine.connect() as conn:
            dbapi = conn.connection.dbapi_connection
            shown = [repr(dbapi), dbapi.dsn]
        shown += [repr(engine), str(engine.url), repr(engine.url)]
    finally:
        engine.dispose()
    for value in (
        redshift,
        postgres,
        redshift.settings(),
        postgres.settings(),
        redshift_settings,
        postgres_settings,
    ):
        shown += [repr(value), str(value)]
    for text in shown:
        assert CANARY not in text, text
    assert postgres_settings.url().password == CANARY  # still there, for the driver


@pytest.mark.parametrize("bucket", [None, "qs-no-such-bucket"], ids=["success", "failure"])
def test_no_aws_secret_in_logs_output_errors_or_the_event_log_of_an_unloaded_day(
    bucket, canary_env, s3_emulator, local_s3, monkeypatch, capfd, caplog
):
    """The secret key of the AWS credential chain, which reads the staged files, stays unseen."""
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CANARY)  # the local S3 takes any key
    monkeypatch.setenv("REDSHIFT_PORT", str(s3_emulator.port))
    for name, value in staging_settings(local_s3).items():
        monkeypatch.setenv(f"REDSHIFT_{name.upper()}", str(value))
    if bucket:
        monkeypatch.setenv("REDSHIFT_UNLOAD_BUCKET", bucket)
    canary_env.write_text(TABLE_LIST + "    extract: unload\n")
    instance = dg.DagsterInstance.ephemeral()

    result = _materialise(canary_env, instance)

    assert result.success is (bucket is None)
    logged = _assert_canary_nowhere(capfd, caplog, instance, result)
    assert "UNLOADed" in logged or bucket
