"""``qupersync doctor`` against the real driver, the wire emulator and the embedded PostgreSQL.

One run must name every injected problem (the single-node FETCH limit as a warning, a missing
grant, a source the catalogue does not show, a schema difference with an existing target table)
and fail; a healthy setup passes; neither run writes anything on either side.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import textwrap
import uuid

import pytest

from qupersync_dagster.devkit.redshift_emulator.catalogue_fixtures import (
    create_external_table,
    create_late_binding_view,
)
from qupersync_dagster_tests.conftest import CUR_START
from qupersync_dagster_tests.doctor.conftest import run_doctor
from qupersync_dagster_tests.repositories import UNLOAD_ROLE, staging_settings

pytestmark = pytest.mark.integration

_TABLE = """
  - name: {name}
    source: {source}
    target: {target}
    partition_column: line_item_usage_start_date
    start_date: "{start}"
"""
_CATALOGUE = """
SELECT n.nspname, c.relname, c.relkind, c.relnatts
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
ORDER BY 1, 2
"""


def _table_list(path, *tables: tuple[str, str, str]) -> None:
    entries = "".join(
        _TABLE.format(name=name, source=source, target=target, start=CUR_START)
        for name, source, target in tables
    )
    path.write_text("tables:" + entries)


def _snapshot(pg_server, database: str) -> tuple[list, list]:
    """Every relation of ``database`` and the row count of every table in it."""
    conn = pg_server.connect(database)
    with contextlib.closing(conn), conn.cursor() as cur:
        cur.execute(_CATALOGUE)
        relations = cur.fetchall()
        counts = []
        for schema, name, kind, _ in relations:
            if kind == "r":
                cur.execute(f'SELECT count(*) FROM "{schema}"."{name}"')
                counts.append((schema, name, cur.fetchone()[0]))
    return relations, counts


def _execute(pg_server, database: str, *statements: str) -> None:
    conn = pg_server.connect(database)
    with contextlib.closing(conn), conn, conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)


def _run_writing_nothing(pg_server, source_db: str, target_db: str) -> tuple[int, str]:
    """Run the doctor; assert that neither database changed; its exit status and output."""
    before = _snapshot(pg_server, source_db), _snapshot(pg_server, target_db)
    result = run_doctor()
    assert (_snapshot(pg_server, source_db), _snapshot(pg_server, target_db)) == before
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, result.stdout


@pytest.fixture
def doctor_env(sync_env, monkeypatch, reader_role, table_list_file):
    """The configuration contract, reading Redshift as the restricted ``reader_role``."""
    monkeypatch.setenv("REDSHIFT_USER", reader_role)
    return sync_env


def test_one_run_names_every_injected_problem_and_writes_nothing(
    doctor_env, pg_server, source_db, target_db, reader_role, table_list_file
):
    _execute(
        pg_server,
        source_db,
        "CREATE TABLE billing.restricted AS SELECT * FROM billing.cur_line_items LIMIT 5",
        # Some privilege other than SELECT, so the table stays visible in the catalogue.
        f'GRANT REFERENCES ON billing.restricted TO "{reader_role}"',
    )
    _execute(
        pg_server,
        target_db,
        "CREATE SCHEMA cost",
        "CREATE TABLE cost.cur_line_items (line_item_usage_start_date timestamp, "
        "approved_by text NOT NULL)",
    )
    _table_list(
        table_list_file,
        ("cur_line_items", "billing.cur_line_items", "cost.cur_line_items"),
        ("restricted", "billing.restricted", "cost.restricted"),
        ("ghost", "billing.no_such_table", "cost.ghost"),
    )
    status, out = _run_writing_nothing(pg_server, source_db, target_db)

    assert status == 1, out
    assert "[warning] single-node cluster" in out and "1,000 rows" in out
    assert f"[PROBLEM] {reader_role} has no SELECT on billing.restricted" in out
    assert f"fix: GRANT SELECT ON billing.restricted TO {reader_role}" in out
    assert "[PROBLEM] source billing.no_such_table is not in the catalogue (SVV_ALL_" in out
    assert "target column 'approved_by' is NOT NULL and has no source column to fill it" in out
    assert "3 problem(s) found; nothing was written." in out
    assert doctor_env["REDSHIFT_PASSWORD"] not in out


def test_a_healthy_setup_passes_with_its_plans_and_largest_days_and_writes_nothing(
    doctor_env, pg_server, source_db, target_db, reader_role, table_list_file
):
    conn = pg_server.connect(source_db)
    with contextlib.closing(conn):
        everything = "SELECT * FROM billing.cur_line_items"
        create_late_binding_view(conn, "billing", "cur_late_binding", everything)
        create_external_table(conn, "spectrum", "cur_external", everything)
    _execute(
        pg_server,
        source_db,
        f'GRANT USAGE ON SCHEMA spectrum TO "{reader_role}"',
        f'GRANT SELECT ON billing.cur_late_binding, spectrum.cur_external TO "{reader_role}"',
    )
    _table_list(
        table_list_file,
        ("cur_line_items", "billing.cur_line_items", "cost.cur_line_items"),
        ("cur_late_binding", "billing.cur_late_binding", "cost.cur_late_binding"),
        ("cur_external", "spectrum.cur_external", "cost.cur_external"),
    )
    status, out = _run_writing_nothing(pg_server, source_db, target_db)

    assert status == 0, out
    for source in ("billing.cur_line_items", "billing.cur_late_binding", "spectrum.cur_external"):
        assert f"[ok] source {source} is in the catalogue" in out
    assert out.count("create the target table") == 3
    assert "the target table cost.cur_line_items and its schema will be created" in out
    assert out.count("10 days with rows since 2026-10-01; the largest") == 3
    assert "[info] not configured (REDSHIFT_UNLOAD_BUCKET): days are read by cursor" in out
    assert "No problems found; nothing was written." in out


def _stage_in(monkeypatch, local_s3, **changes) -> None:
    for name, value in (staging_settings(local_s3) | changes).items():
        monkeypatch.setenv(f"REDSHIFT_{name.upper()}", str(value))


def test_s3_staging_that_can_be_read_passes_and_nothing_is_written_there(
    doctor_env, monkeypatch, pg_server, source_db, target_db, reader_role, local_s3
):
    _stage_in(monkeypatch, local_s3)

    status, out = _run_writing_nothing(pg_server, source_db, target_db)

    assert status == 0, out
    assert f"[ok] s3://{local_s3.bucket}/staging/ is readable" in out
    assert UNLOAD_ROLE in out
    assert local_s3.client().list_objects_v2(Bucket=local_s3.bucket)["KeyCount"] == 0


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"unload_bucket": "no-such-bucket-qs"}, "cannot read s3://no-such-bucket-qs/staging/"),
        ({"unload_iam_role": ""}, "REDSHIFT_UNLOAD_IAM_ROLE must be an IAM role ARN; it is empty"),
        ({"unload_bucket": "Bad_Bucket"}, "REDSHIFT_UNLOAD_BUCKET must be an S3 bucket name"),
    ],
    ids=["missing-bucket", "no-role", "bad-name"],
)
def test_s3_staging_that_cannot_work_is_a_problem_with_a_fix(
    changes,
    problem,
    doctor_env,
    monkeypatch,
    pg_server,
    source_db,
    target_db,
    reader_role,
    local_s3,
):
    _stage_in(monkeypatch, local_s3, **changes)

    status, out = _run_writing_nothing(pg_server, source_db, target_db)

    assert status == 1, out
    assert f"[PROBLEM] {problem}" in out


def test_a_target_user_without_rights_is_told_what_to_grant(
    doctor_env, monkeypatch, pg_server, source_db, target_db, table_list_file
):
    role = f"qs_writer_{uuid.uuid4().hex[:8]}"
    _execute(
        pg_server,
        target_db,
        f'CREATE ROLE "{role}" LOGIN',
        "CREATE SCHEMA cost",
        f'GRANT USAGE ON SCHEMA cost TO "{role}"',
        "CREATE TABLE cost.cur_line_items (line_item_usage_start_date timestamp)",
        f'GRANT SELECT ON cost.cur_line_items TO "{role}"',
        "CREATE TABLE cost.hidden (line_item_usage_start_date timestamp)",
    )
    monkeypatch.setenv("POSTGRES_USER", role)
    _table_list(
        table_list_file,
        ("cur_line_items", "billing.cur_line_items", "cost.cur_line_items"),
        ("hidden", "billing.cur_line_items", "cost.hidden"),
    )
    try:
        status, out = _run_writing_nothing(pg_server, source_db, target_db)
    finally:
        _execute(pg_server, target_db, f'DROP OWNED BY "{role}"', f'DROP ROLE "{role}"')

    assert status == 1, out
    assert f"schema qupersync, which does not exist, and {role} may not create schemas" in out
    assert f"fix: CREATE SCHEMA qupersync AUTHORIZATION {role}" in out
    assert (
        f"the plan changes cost.cur_line_items, which only its owner may alter, not {role}" in out
    )
    assert f"fix: ALTER TABLE cost.cur_line_items OWNER TO {role}" in out
    assert f"fix: GRANT SELECT, INSERT, UPDATE, DELETE ON cost.cur_line_items TO {role}" in out
    assert f"cost.hidden exists but {role} has no privilege on it, so its columns are hidden" in out
    assert f"fix: GRANT SELECT, INSERT, UPDATE, DELETE ON cost.hidden TO {role}" in out
    assert "5 problem(s) found; nothing was written." in out


def test_an_unreachable_cluster_is_one_problem_and_the_target_is_still_checked(
    doctor_env, monkeypatch, pg_server, source_db, target_db, table_list_file
):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        monkeypatch.setenv("REDSHIFT_PORT", str(probe.getsockname()[1]))  # nothing listens
        status, out = _run_writing_nothing(pg_server, source_db, target_db)

    assert status == 1, out
    assert "[PROBLEM] cannot read the cluster: cannot connect to Redshift" in out
    assert "the sync state table qupersync.sync_state and its schema will be created" in out
    assert "1 problem(s) found; nothing was written." in out


def test_missing_connection_settings_are_named_without_connecting(monkeypatch, table_list_file):
    for name in ("REDSHIFT_HOST", "POSTGRES_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REDSHIFT_PASSWORD", "never-printed-secret")

    result = run_doctor()

    assert result.returncode == 1
    assert "REDSHIFT_HOST" in result.stdout and "POSTGRES_PASSWORD" in result.stdout
    assert "never-printed-secret" not in result.stdout + result.stderr


def test_the_doctor_runs_without_the_dev_kit_and_the_demo(tmp_path):
    """Production installs have neither: importing them is refused and the command still runs."""
    script = textwrap.dedent(
        """
        import sys
        class Refuse:
            def find_spec(self, name, path=None, target=None):
                if name.startswith(("qupersync_dagster.devkit", "qupersync_dagster.demo")):
                    raise ImportError(name)
        sys.meta_path.insert(0, Refuse())
        from qupersync_dagster.doctor.command import run
        sys.exit(run(sys.stdout))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=180,
        env={"QUPERSYNC_CONFIG": str(tmp_path / "absent.yaml"), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 1, result.stderr
    assert "cannot read table list" in result.stdout
