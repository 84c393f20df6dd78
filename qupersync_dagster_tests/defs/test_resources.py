"""Connection settings reach a run from the environment when the run starts, never at import.

Settings without a default and passwords are Dagster ``EnvVar``s (the UI shows their names); every
other setting is read from its variable when the run asks for its settings, else its one default.
"""

from __future__ import annotations

import os

import dagster as dg
import pytest

from qupersync_dagster.definitions import resources
from qupersync_dagster.defs.resources import PostgresResource, RedshiftResource
from qupersync_dagster.domain.errors import ConfigError
from qupersync_dagster.infrastructure.postgres.connector import PostgresSettings
from qupersync_dagster.infrastructure.redshift.connector import RedshiftSettings

REQUIRED = {
    f"{prefix}_{name}": f"{prefix.lower()}-{name.lower()}"
    for prefix in ("REDSHIFT", "POSTGRES")
    for name in ("HOST", "DATABASE", "USER", "PASSWORD")
}


@pytest.fixture
def environment(monkeypatch):
    """Only the required variables set, whatever the surrounding shell holds."""
    for name in os.environ:
        if name.startswith(("REDSHIFT_", "POSTGRES_")):
            monkeypatch.delenv(name)
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_settings_without_a_default_and_passwords_are_given_as_variable_names():
    for resource, prefix in ((RedshiftResource, "REDSHIFT"), (PostgresResource, "POSTGRES")):
        declared = resource.from_environment()
        given = {name: getattr(declared, name) for name in declared.model_fields_set}
        assert all(isinstance(value, dg.EnvVar) for value in given.values())
        assert {name: value.env_var_name for name, value in given.items()} == {
            name: f"{prefix}_{name.upper()}" for name in ("host", "database", "user", "password")
        }


def test_optional_settings_are_read_when_the_run_starts_not_when_the_code_loads(environment):
    loaded = resources()
    environment.setenv("REDSHIFT_FETCH_SIZE", "1000")
    environment.setenv("REDSHIFT_SSL", "off")
    environment.setenv("POSTGRES_TIMEOUT_S", "60")
    environment.setenv("POSTGRES_STATE_SCHEMA", "sync_state")
    with dg.build_resources(loaded) as built:
        redshift, postgres = built.redshift.settings(), built.postgres.settings()
    assert (redshift.host, redshift.password) == ("redshift-host", "redshift-password")
    assert (redshift.fetch_size, redshift.ssl) == (1000, False)
    assert (postgres.timeout_s, postgres.state_schema) == (60, "sync_state")


def test_s3_staging_is_read_from_its_redshift_unload_variables_when_the_run_starts(environment):
    loaded = resources()
    role = "arn:aws:iam::123456789012:role/qupersync-unload"
    environment.setenv("REDSHIFT_UNLOAD_BUCKET", "finops-staging")
    environment.setenv("REDSHIFT_UNLOAD_IAM_ROLE", role)
    environment.setenv("REDSHIFT_UNLOAD_REGION", "eu-west-1")
    environment.setenv("REDSHIFT_UNLOAD_READERS", "8")
    with dg.build_resources(loaded) as built:
        staging = built.redshift.settings().staging()
    assert staging is not None
    assert (staging.bucket, staging.iam_role, staging.region) == (
        "finops-staging",
        role,
        "eu-west-1",
    )
    assert (staging.prefix, staging.readers) == ("qupersync/", 8)


def test_without_redshift_unload_bucket_there_is_no_staging(environment):
    with dg.build_resources(resources()) as built:
        assert built.redshift.settings().staging() is None


def test_a_setting_whose_variable_is_unset_takes_its_one_default(environment):
    with dg.build_resources(resources()) as built:
        redshift, postgres = built.redshift.settings(), built.postgres.settings()
    assert redshift == RedshiftSettings(
        host="redshift-host",
        database="redshift-database",
        user="redshift-user",
        password="redshift-password",
    )
    assert postgres == PostgresSettings(
        host="postgres-host",
        database="postgres-database",
        user="postgres-user",
        password="postgres-password",
    )


@pytest.mark.parametrize(
    ("text", "on"),
    [("1", True), ("TRUE", True), ("yes", True), (" on ", True), ("0", False), ("no", False)],
)
def test_a_boolean_variable_is_on_for_the_documented_words_only(environment, text, on):
    environment.setenv("REDSHIFT_SSL", text)
    assert RedshiftResource(host="h", database="d", user="u").settings().ssl is on


def test_a_value_given_to_the_resource_wins_over_its_variable(environment):
    environment.setenv("REDSHIFT_FETCH_SIZE", "1000")
    resource = RedshiftResource(host="h", database="d", user="u", fetch_size=50)
    assert resource.settings().fetch_size == 50


def test_a_variable_that_is_not_a_whole_number_is_refused_naming_it_not_its_value(environment):
    environment.setenv("POSTGRES_PORT", "54x32")
    with pytest.raises(ConfigError, match="^POSTGRES_PORT must be a whole number$"):
        PostgresResource(host="h", database="d", user="u").settings()


def test_an_unset_required_variable_stops_the_run_naming_it(environment):
    environment.delenv("POSTGRES_HOST")
    with (
        pytest.raises(dg.DagsterInvalidConfigError, match="POSTGRES_HOST"),
        dg.build_resources(resources()),
    ):
        pass


def test_a_misspelt_boolean_variable_is_refused_rather_than_read_as_off(environment):
    environment.setenv("REDSHIFT_SSL", "ture")
    with pytest.raises(ConfigError, match="^REDSHIFT_SSL must be one of 1, true, yes, on"):
        RedshiftResource(host="h", database="d", user="u").settings()
