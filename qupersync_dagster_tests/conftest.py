"""Real servers for the test-suite: a private PostgreSQL and the Redshift wire emulator.

Set ``QUPERSYNC_TEST_PG_DSN`` (e.g. ``postgresql://postgres@127.0.0.1:5432/postgres``) to run
against an existing server instead of the embedded one.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import pytest

from qupersync_dagster.devkit.embedded import ServerAddress, start_embedded


@pytest.fixture(scope="session")
def pg_server() -> ServerAddress:
    dsn = os.environ.get("QUPERSYNC_TEST_PG_DSN")
    if dsn:
        return ServerAddress.from_dsn(dsn)
    # Not under pytest's basetemp: each pytest run makes that private to its own user, and the
    # embedded server runs as a separate system user that must keep reaching its data directory.
    return start_embedded(Path(tempfile.mkdtemp(prefix="qupersync-pg-")) / "data", keep=False)


def _fresh_database(server: ServerAddress, role: str):
    name = f"qs_{role}_{uuid.uuid4().hex[:10]}"
    server.create_database(name)
    yield name
    server.drop_database(name)


@pytest.fixture
def source_db(pg_server) -> str:
    """A new, empty database playing the Redshift side (reach it through ``redshift_emulator``)."""
    yield from _fresh_database(pg_server, "source")


@pytest.fixture
def target_db(pg_server) -> str:
    """A new, empty PostgreSQL target database."""
    yield from _fresh_database(pg_server, "target")


@pytest.fixture(scope="session")
def redshift_emulator(pg_server):
    """The Redshift wire emulator in front of ``pg_server``: the real driver connects to it.

    Strict and single-node, its defaults: sessions behave like a single-node cluster's.
    """
    from qupersync_dagster.devkit.redshift_emulator import RedshiftWireEmulator

    with RedshiftWireEmulator(pg_server) as emulator:
        yield emulator


@pytest.fixture(scope="session")
def local_s3_server():
    """moto's S3 server on a loopback port, for the whole run (see ``devkit.local_s3``)."""
    from qupersync_dagster.devkit.local_s3 import LocalS3

    with LocalS3() as server:
        yield server


@pytest.fixture
def local_s3(local_s3_server, monkeypatch):
    """A fresh bucket in the local S3, and its dummy credentials in this test's environment.

    An ``S3Bucket``: ``.bucket``, ``.endpoint_url``, ``.region``, ``.endpoint`` (with the keys),
    ``.url(key)`` and ``.client()``.
    """
    from qupersync_dagster.devkit.local_s3 import S3Bucket

    endpoint = local_s3_server.endpoint
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", endpoint.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", endpoint.secret_access_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", endpoint.region)
    return S3Bucket(endpoint, local_s3_server.create_bucket())


@pytest.fixture(scope="session")
def s3_emulator(pg_server, local_s3_server):
    """The strict emulator whose UNLOAD writes to the local S3, as a cluster's slices do."""
    from qupersync_dagster.devkit.redshift_emulator import RedshiftWireEmulator

    with RedshiftWireEmulator(pg_server, s3=local_s3_server.endpoint) as emulator:
        yield emulator


@pytest.fixture
def sync_env(monkeypatch, pg_server, redshift_emulator, source_db, target_db):
    """The REDSHIFT_* / POSTGRES_* environment of the configuration contract, for one test."""
    values = {
        "REDSHIFT_HOST": redshift_emulator.host,
        "REDSHIFT_PORT": str(redshift_emulator.port),
        "REDSHIFT_DATABASE": source_db,
        "REDSHIFT_USER": pg_server.user,
        "REDSHIFT_PASSWORD": "emulator-trusts-any-password",
        "REDSHIFT_SSL": "false",
        "POSTGRES_HOST": pg_server.host,
        "POSTGRES_PORT": str(pg_server.port),
        "POSTGRES_DATABASE": target_db,
        "POSTGRES_USER": pg_server.user,
        "POSTGRES_PASSWORD": pg_server.password,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


CUR_START = "2026-10-01"
CUR_DAYS = 10


@pytest.fixture
def cur_source(pg_server, source_db):
    """``billing.cur_line_items`` in the source database: 10 days of generated CUR rows."""
    from datetime import date

    from qupersync_dagster.devkit import cur_data

    conn = pg_server.connect(source_db)
    try:
        cur_data.create_source_table(conn, "billing", "cur_line_items")
        cur_data.generate(
            conn,
            "billing",
            "cur_line_items",
            start=date.fromisoformat(CUR_START),
            days=CUR_DAYS,
            rows=CUR_DAYS * 200,
        )
        yield conn
    finally:
        conn.close()


@pytest.fixture
def table_list_file(tmp_path, monkeypatch):
    """A table list for ``billing.cur_line_items`` starting on the generated data's first day."""
    path = tmp_path / "tables.yaml"
    path.write_text(
        f"""
tables:
  - name: cur_line_items
    source: billing.cur_line_items
    target: cost.cur_line_items
    partition_column: line_item_usage_start_date
    start_date: "{CUR_START}"
    mode: replace
    primary_key: [identity_line_item_id, identity_time_interval]
    measure_column: line_item_unblended_cost
summary:
  from_table: cur_line_items
  target: cost.cost_usage_summary
"""
    )
    monkeypatch.setenv("QUPERSYNC_CONFIG", str(path))
    return path
