"""Connections as Dagster resources, configured from ``REDSHIFT_*`` / ``POSTGRES_*`` variables.

Each resource is its infrastructure settings model (fields, defaults and descriptions declared
there once) plus the ways a run opens connections, all through ``qupersync_dagster.bootstrap``.

Every setting is read from its variable (the prefix and the field name in capitals) when a run
opens a connection, never at import. Dagster resolves an ``EnvVar`` given to a resource when the
run starts and shows the variable's name, never its value, in the UI; but it refuses an unset
variable (it has no defaults, dagster-io/dagster#16232). So only settings without a default, and
secrets, are given to the resource as ``EnvVar``; any other setting the resource was not given is
read with ``EnvVar.get_value`` when the run asks for its settings, else its default applies.
Passwords are excluded from ``repr`` and never written to logs or metadata.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, ClassVar, Self

import dagster as dg
import sqlalchemy as sa

from qupersync_dagster import bootstrap
from qupersync_dagster.domain.errors import ConfigError
from qupersync_dagster.domain.repositories import TargetReadModel
from qupersync_dagster.domain.services.sync_service import SyncService
from qupersync_dagster.infrastructure.postgres.connector import PostgresSettings
from qupersync_dagster.infrastructure.postgres.guard import GuardedEngine
from qupersync_dagster.infrastructure.postgres.repository import PostgresTargetRepository
from qupersync_dagster.infrastructure.redshift.connector import RedshiftSettings
from qupersync_dagster.infrastructure.redshift.repository import RedshiftSourceRepository

# A misspelt switch must not quietly turn encryption off: anything else is refused.
_BOOLEANS = {"1": True, "true": True, "yes": True, "on": True}
_BOOLEANS |= {"0": False, "false": False, "no": False, "off": False}


class _EnvironmentResource(dg.ConfigurableResource):
    """A resource whose fields are settings named ``env_prefix`` + the field name in capitals."""

    env_prefix: ClassVar[str]

    @classmethod
    def variable(cls, field: str) -> str:
        return f"{cls.env_prefix}{field.upper()}"

    @classmethod
    def from_environment(cls) -> Self:
        """The resource for a code location: required and secret settings as ``EnvVar``."""
        return cls(
            **{
                name: dg.EnvVar(cls.variable(name))
                for name, field in cls.model_fields.items()
                if field.is_required() or field.repr is False
            }
        )

    def resolved(self) -> dict[str, Any]:
        """The values given to the resource, then those set in the environment right now."""
        values = {name: getattr(self, name) for name in self.model_fields_set}
        for name, field in type(self).model_fields.items():
            text = None if name in values else dg.EnvVar(self.variable(name)).get_value()
            if text:
                values[name] = _parse(text, field.default, self.variable(name))
        return values


def _parse(text: str, default: Any, variable: str) -> Any:
    """``text`` as the type of the setting's default (a required setting is text)."""
    if isinstance(default, bool):
        try:
            return _BOOLEANS[text.strip().lower()]
        except KeyError:
            raise ConfigError(f"{variable} must be one of {', '.join(_BOOLEANS)}") from None
    if isinstance(default, int):
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{variable} must be a whole number") from None
    return text


class RedshiftResource(_EnvironmentResource, RedshiftSettings):
    """The Redshift cluster cost-usage tables are read from (read-only access is enough)."""

    env_prefix: ClassVar[str] = "REDSHIFT_"

    def settings(self) -> RedshiftSettings:
        return RedshiftSettings(**self.resolved())

    def get_repository(self) -> AbstractContextManager[RedshiftSourceRepository]:
        return bootstrap.open_source(self.settings())


class PostgresResource(_EnvironmentResource, PostgresSettings):
    """The PostgreSQL database cost-usage tables are mirrored into."""

    env_prefix: ClassVar[str] = "POSTGRES_"

    def settings(self) -> PostgresSettings:
        return PostgresSettings(**self.resolved())

    def get_engine(self) -> AbstractContextManager[sa.Engine]:
        return bootstrap.open_engine(self.settings())

    def get_repository(self) -> AbstractContextManager[PostgresTargetRepository]:
        return bootstrap.open_target(self.settings())

    def get_guarded(self) -> AbstractContextManager[GuardedEngine]:
        return bootstrap.open_guarded(self.settings())

    def get_read_model(self) -> AbstractContextManager[TargetReadModel]:
        return bootstrap.open_read_model(self.settings())


def open_sync_service(
    redshift: RedshiftResource, postgres: PostgresResource
) -> AbstractContextManager[SyncService]:
    return bootstrap.open_sync_service(redshift.settings(), postgres.settings())
