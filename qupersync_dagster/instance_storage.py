"""The Dagster instance's PostgreSQL storage, each of its three stores on a pooled connection.

dagster-postgres gives runs, event logs and schedules an engine without a pool outside the
webserver: every event a run stores opens a PostgreSQL connection of its own (a new server
process, the login, the catalogue caches) and closes it again. A 30-day backfill with its checks
stores about a hundred events and reads its run back as often, some 350 connections: a second or
more of the run spent, on both sides, on connecting. ``PooledPostgresStorage`` is the same
storage (the same ``postgres_db`` or ``postgres_url`` configuration, tables and migrations), with
the pool the webserver gives each store (dagster-postgres's own ``optimize_for_webserver``): one
connection kept open between uses and renewed hourly; a store used by several threads at once
opens more, closed again after use. A process holds at most three idle connections to the
instance's database (the webserver sets its own pools, as it does for ``storage: postgres``).

It lives in its own module, outside the code location, because the instance loads it: every
Dagster process reading a ``dagster.yaml`` that names it (webserver, daemon, run workers) imports
QuperSync.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage
from dagster_postgres.utils import get_token_provider_from_config, pg_url_from_config

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
        # What the webserver asks of every store: one pooled connection. No statement timeout
        # (0: the server's), and never a wait for a connection, as without a pool.
        for store in (self.run_storage, self.event_log_storage, self.schedule_storage):
            store.optimize_for_webserver(
                statement_timeout=0, pool_recycle=_RECYCLE_S, max_overflow=-1
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
