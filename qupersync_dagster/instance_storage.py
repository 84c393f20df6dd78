"""The Dagster instance's PostgreSQL storage, each of its three stores on a pooled connection.

dagster-postgres gives runs, event logs and schedules an engine without a pool outside the
webserver: every event a run stores opens a PostgreSQL connection of its own (a new server
process, the login, the catalogue caches) and closes it again. A 30-day backfill with its checks
stores about a hundred events and reads its run back as often, some 350 connections: a second or
more of the run spent, on both sides, on connecting. ``PooledPostgresStorage`` is the same
storage (the same ``postgres_db`` or ``postgres_url`` configuration, tables and migrations), but
each store keeps one connection open between uses, checked with a round trip before each use and
renewed hourly; a store used by several threads at once opens more, closed again after use. A
process holds at most three idle connections to the instance's database (the webserver swaps in
its own pools, as it does for ``storage: postgres``).

It lives in its own module, outside the code location, because the instance loads it: every
Dagster process reading a ``dagster.yaml`` that names it (webserver, daemon, run workers) imports
QuperSync.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage
from dagster_postgres.utils import (
    create_pg_engine,
    get_token_provider_from_config,
    pg_url_from_config,
)

_RECYCLE_S = 3600  # a connection is renewed at its first use after an hour


class PooledPostgresStorage(DagsterPostgresStorage):
    """``storage: postgres`` with each store's connection kept open between uses."""

    def __init__(
        self,
        postgres_url: str,
        should_autocreate_tables: bool = True,
        inst_data: ConfigurableClassData | None = None,
        token_provider: Any = None,
    ):
        super().__init__(postgres_url, should_autocreate_tables, inst_data, token_provider)
        for store in (self._run_storage, self._event_log_storage, self._schedule_storage):
            store._engine.dispose()  # the stores expose no other way to their engine
            store._engine = create_pg_engine(
                postgres_url,
                token_provider,
                isolation_level="AUTOCOMMIT",
                pool_size=1,
                max_overflow=-1,  # never wait for a connection, as without a pool
                pool_pre_ping=True,
                pool_recycle=_RECYCLE_S,
            )

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> PooledPostgresStorage:
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )
