"""A target database for the adapter's tests, and an independent way to look inside it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from qupersync_dagster_tests.repositories import postgres_engine


@pytest.fixture
def engine(pg_server, target_db) -> Iterator[sa.Engine]:
    with postgres_engine(pg_server, target_db) as engine:
        yield engine


@pytest.fixture
def db(pg_server, target_db):
    """A plain psycopg2 connection for reading what the repository did, independently."""
    with contextlib.closing(pg_server.connect(target_db)) as conn:
        conn.autocommit = True
        yield conn.cursor()
