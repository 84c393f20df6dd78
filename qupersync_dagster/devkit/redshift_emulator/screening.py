"""What a Redshift cluster refuses that PostgreSQL accepts, found in a statement's SQL.

The emulator's PostgreSQL would happily run ``string_agg``, ``DISTINCT ON`` or ``COPY ... TO
STDOUT``, so code that leans on them passes every local test and fails on the first day against
a cluster. Each statement is tokenized (and, where tables matter, parsed) with sqlglot and
refused with an error that names the construct.

The same tokens drive the two rewrites a function in the compat schema cannot do by shadowing:
``JSON_SERIALIZE`` is SQL/JSON syntax in PostgreSQL, and ``pg_catalog.svv_*`` names a schema the
emulator cannot add views to.
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.tokens import Token, TokenType

from qupersync_dagster.devkit.redshift_emulator.compat import COMPAT_SCHEMA, COMPAT_VIEWS

FEATURE_NOT_SUPPORTED = "0A000"
_DIALECT = sqlglot.Dialect.get_or_raise("postgres")
# PostgreSQL functions Redshift does not have (it offers LISTAGG, JSON_PARSE, SUPER navigation).
_MISSING_FUNCTIONS = frozenset(
    {
        "string_agg",
        "array_agg",
        "json_agg",
        "json_object_agg",
        "json_build_object",
        "json_build_array",
        "to_json",
        "row_to_json",
        "array_to_json",
        "json_each",
        "json_each_text",
        "json_populate_record",
        "unnest",
    }
)
_MISSING_PREFIXES = ("jsonb_", "pg_advisory_", "pg_try_advisory_")
_REG_TYPES = frozenset({"regclass", "regtype", "regproc", "regprocedure", "regnamespace"})
# Relations a leader-node-only function may read alongside: the catalogue, not user tables.
_SYSTEM_SCHEMAS = frozenset({"pg_catalog", "information_schema", COMPAT_SCHEMA})
_SYSTEM_PREFIXES = ("pg_", "svv_", "stv_", "stl_", "svl_", "sys_")


class Refusal(Exception):
    """Redshift would reject the statement: the error the emulator raises in its place."""

    def __init__(self, message: str, sqlstate: str = FEATURE_NOT_SUPPORTED) -> None:
        super().__init__(message)
        self.message = message
        self.sqlstate = sqlstate


def unsupported(construct: str) -> Refusal:
    return Refusal(f"{construct} is not supported by Amazon Redshift")


def tokens(sql: str) -> list[Token]:
    """sqlglot's tokens of ``sql``; none when it cannot tokenize (the server will judge)."""
    try:
        return _DIALECT.tokenize(sql)
    except SqlglotError:
        return []


def split_statements(sql: str) -> Iterator[str]:
    """The statements of a simple Query, cut at top-level semicolons."""
    start = 0
    for token in tokens(sql):
        if token.token_type is TokenType.SEMICOLON:
            yield sql[start : token.start]
            start = token.end + 1
    if sql[start:].strip():
        yield sql[start:]


def screen(sql: str, found: list[Token]) -> None:
    """Raise a ``Refusal`` naming the first construct Redshift lacks."""
    texts = [token.text.lower() for token in found]
    for position, (token, text) in enumerate(zip(found, texts, strict=True)):
        following = found[position + 1] if position + 1 < len(found) else None
        calls = following is not None and following.token_type is TokenType.L_PAREN
        if calls and token.token_type is not TokenType.STRING and _missing_function(text):
            raise unsupported(f"function {text}()")
        if (
            token.token_type is TokenType.DISTINCT
            and following is not None
            and (following.token_type is TokenType.ON)
        ):
            raise unsupported("DISTINCT ON")
        if text in _REG_TYPES and token.token_type is not TokenType.STRING:
            raise unsupported(f"the {text} type (::{text} casts)")
    if texts[:1] == ["copy"] and ({"stdout", "stdin"} & set(texts)):
        raise unsupported("COPY ... TO STDOUT / FROM STDIN")
    if "generate_series" in texts and _reads_user_tables(sql):
        raise Refusal(
            "Specified types or functions (one per INFO message) not supported on Redshift "
            "tables: generate_series() runs on the leader node only"
        )


def _missing_function(name: str) -> bool:
    return name in _MISSING_FUNCTIONS or name.startswith(_MISSING_PREFIXES)


def _reads_user_tables(sql: str) -> bool:
    try:
        parsed = sqlglot.parse(sql, read=_DIALECT)
    except SqlglotError:
        return False
    for statement in filter(None, parsed):
        ctes = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
        for table in statement.find_all(exp.Table):
            name, schema = table.name.lower(), table.db.lower()
            if not name or name in ctes or schema in _SYSTEM_SCHEMAS:
                continue
            if not name.startswith(_SYSTEM_PREFIXES):
                return True
    return False


def redirect_to_compat(sql: str, found: list[Token]) -> str:
    """Point ``JSON_SERIALIZE(`` and ``pg_catalog.<compat view>`` at the compat schema."""
    edits: list[tuple[int, int, str]] = []
    for position, token in enumerate(found[:-1]):
        following = found[position + 1]
        text = token.text.lower()
        if text == "json_serialize" and following.token_type is TokenType.L_PAREN:
            edits.append((token.start, token.end + 1, f"{COMPAT_SCHEMA}.json_serialize"))
        elif (
            text == "pg_catalog"
            and following.token_type is TokenType.DOT
            and position + 2 < len(found)
            and found[position + 2].text.lower() in COMPAT_VIEWS
        ):
            edits.append((token.start, token.end + 1, COMPAT_SCHEMA))
    for start, end, replacement in reversed(edits):
        sql = sql[:start] + replacement + sql[end:]
    return sql
