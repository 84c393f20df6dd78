"""The doctor's statements parse as Redshift SQL and keep every value out of the statement text.

Each privilege function is a leader-node function that Redshift refuses next to a table or a
system view, so each must stand alone: a SELECT without FROM.
"""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from qupersync_dagster.domain.entities import TableRef
from qupersync_dagster.infrastructure.redshift import diagnostics_sql

HOSTILE = TableRef("billing", "cur'; DROP TABLE x; --")
STATEMENTS = {
    "catalogue": diagnostics_sql.catalogue_columns("dev", HOSTILE),
    "external catalogue": diagnostics_sql.external_columns(HOSTILE),
    "schema privilege": diagnostics_sql.schema_privilege("billing", "USAGE"),
    "table privilege": diagnostics_sql.table_privilege(HOSTILE, "SELECT"),
}


def _parse(statement: str) -> exp.Select:
    tree = sqlglot.parse_one(statement, read="redshift", error_level=sqlglot.ErrorLevel.RAISE)
    assert isinstance(tree, exp.Select)
    return tree


@pytest.mark.parametrize("query", STATEMENTS.values(), ids=STATEMENTS.keys())
def test_each_statement_parses_as_redshift_and_binds_its_values(query):
    _parse(query.sql.replace("%s", "NULL"))
    assert query.sql.count("%s") == len(query.params)
    assert "DROP" not in query.sql and "cur'" not in query.sql


@pytest.mark.parametrize("name", ["schema privilege", "table privilege"])
def test_a_privilege_function_is_asked_without_reading_any_table(name):
    tree = _parse(STATEMENTS[name].sql.replace("%s", "NULL"))
    assert tree.find(exp.Table) is None


def test_the_table_privilege_names_the_table_quoted():
    query = diagnostics_sql.table_privilege(TableRef("billing", "CUR"), "SELECT")
    assert query.params == ('"billing"."CUR"', "SELECT")


def test_the_catalogue_is_searched_by_database_schema_and_table():
    query = diagnostics_sql.catalogue_columns("dev", TableRef("billing", "cur"))
    tree = _parse(query.sql.replace("%s", "NULL"))
    assert tree.find(exp.Table).name.lower() == "svv_all_columns"
    assert query.params == ("dev", "billing", "cur")
