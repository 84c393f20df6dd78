"""What every connection needs: where, to which database and as whom.

The base of ``RedshiftSettings`` and ``PostgresSettings``, so the fields both servers share, and
their defaults, are declared once. The password is a field like any other for the driver, but is
kept out of ``repr`` and so out of logs and error messages.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ConnectionSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    host: str = Field(description="Host name; for PostgreSQL also a Unix socket directory.")
    database: str
    user: str = Field(description="Role to log in as (see the README's least privileges).")
    password: str = Field(default="", repr=False)
    application_name: str = "qupersync"
