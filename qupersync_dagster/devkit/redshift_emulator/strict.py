"""Redshift's rules for a session, applied to each statement a client sends through the emulator.

A statement Redshift would reject is replaced by a call that raises Redshift's error on the
server, so the client receives a proper ErrorResponse and ReadyForQuery and the transaction is
aborted, exactly as if the cluster had refused it. Cursor rules need state the statement alone
does not carry (is another cursor open? how big is the result?), so DECLARE is rewritten to ask
the compat schema's guards: the one-cursor check runs when DECLARE plans its query, the size cap
when the first FETCH materialises the result, which is when Redshift checks them too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlglot.tokens import Token, TokenType

from qupersync_dagster.devkit.redshift_emulator.compat import COMPAT_SCHEMA, SLICES_PER_NODE
from qupersync_dagster.devkit.redshift_emulator.screening import (
    Refusal,
    redirect_to_compat,
    screen,
    split_statements,
    tokens,
    unsupported,
)

SINGLE_NODE_FETCH_LIMIT = 1000
# Redshift's own words for a FETCH above the single-node limit.
FETCH_LIMIT_MESSAGE = (
    "Fetch size {count} exceeds the limit of 1000 for a single node configuration. Reduce the "
    "client fetch/cache size or upgrade to a multi node installation."
)
_INTERNAL_ERROR = "XX000"
_COMPAT_PATH = f"{COMPAT_SCHEMA}, pg_catalog"
# Session defaults of a strict session: what a cluster's parameter group may well hold, and
# Redshift's own float rendering (15 significant digits unless a client raises it).
HOSTILE_SESSION_DEFAULTS = {
    "extra_float_digits": "0",
    "TimeZone": "Pacific/Chatham",
    "DateStyle": "SQL, DMY",
}
_PARAMETER = re.compile(r"\$(\d+)")
_SET_SEARCH_PATH = re.compile(
    r"^\s*SET\s+(?:SESSION\s+|LOCAL\s+)?search_path\s*(?:TO|=)\s*(?!DEFAULT\b)(.+?)\s*$",
    re.IGNORECASE | re.DOTALL,
)
_SET_FLOAT_DIGITS = re.compile(
    r"^\s*SET\s+(?:SESSION\s+|LOCAL\s+)?extra_float_digits\s*(?:TO|=)\s*'?(-?\d+)'?\s*$",
    re.IGNORECASE,
)
_FLOAT_DIGITS_RANGE = range(-15, 3)  # Redshift's; PostgreSQL also accepts 3
_CURSOR_COMMAND = re.compile(r"\s*(declare|fetch)\b", re.IGNORECASE)
_FETCH_DIRECTIONS_REDSHIFT_LACKS = frozenset(
    {"backward", "prior", "first", "last", "absolute", "relative"}
)


def session_defaults(settings: Mapping[str, str], nodes: int) -> dict[str, str]:
    """Startup parameters for a strict session: ``settings``, the compat schema, the nodes."""
    return dict(settings) | {
        "search_path": f'"$user", public, {_COMPAT_PATH}',
        f"{COMPAT_SCHEMA}.nodes": str(nodes),
    }


@dataclass(frozen=True)
class StrictRules:
    """The rules of one emulated cluster: single-node or not, and its cursor result cap."""

    single_node: bool = True
    cursor_bytes_cap: int | None = None
    session_settings: Mapping[str, str] = field(
        default_factory=lambda: dict(HOSTILE_SESSION_DEFAULTS)
    )

    @property
    def nodes(self) -> int:
        return 1 if self.single_node else 2

    @property
    def slices(self) -> int:
        """The cluster's slices, as STV_SLICES lists them."""
        return self.nodes * SLICES_PER_NODE

    def rewrite_query(self, sql: str) -> str:
        """A simple Query's text as the server must run it."""
        try:
            return ";".join(self._rewrite(statement) for statement in split_statements(sql))
        except Refusal as refusal:
            return refusal_statement(refusal, 0)

    def rewrite_parse(self, sql: str, declared_parameters: int) -> str:
        """A Parse's statement as the server must prepare it, keeping its parameters bindable."""
        try:
            return self._rewrite(sql)
        except Refusal as refusal:
            referenced = [int(number) for number in _PARAMETER.findall(sql)]
            return refusal_statement(refusal, max([declared_parameters, *referenced]))

    def _rewrite(self, sql: str) -> str:
        # sqlglot reads FETCH and DECLARE as commands: their arguments are tokenized apart, and
        # a statement that starts with either needs no tokenizing whole.
        command = _CURSOR_COMMAND.match(sql)
        found = [] if command else tokens(sql)
        if command:
            first, split = command[1].lower(), command.end()
        elif found:
            first, split = found[0].text.lower(), found[0].end + 1
        else:
            return sql
        head, rest = sql[:split], sql[split:]
        if first == "fetch":
            self._check_fetch(tokens(rest))
            return sql
        if first == "declare":
            return head + self._declare(rest, tokens(rest))
        digits = _SET_FLOAT_DIGITS.match(sql)
        if digits and int(digits[1]) not in _FLOAT_DIGITS_RANGE:
            raise Refusal(
                f"{digits[1]} is outside the valid range for parameter extra_float_digits "
                "(-15 .. 2)",
                "22023",
            )
        path = _SET_SEARCH_PATH.match(sql)
        if path:  # catalogue views stay visible, as Redshift's live in pg_catalog
            return f"SET search_path TO {path[1]}, {_COMPAT_PATH}"
        screen(sql, found)
        return redirect_to_compat(sql, found)

    def _check_fetch(self, found: list[Token]) -> None:
        words = [token.text.lower() for token in found]
        direction = words[0] if words else ""
        if direction in _FETCH_DIRECTIONS_REDSHIFT_LACKS or direction.isdigit():
            raise unsupported(f"FETCH {direction.upper()}")
        count = words[1] if direction == "forward" and len(words) > 1 else direction
        if not self.single_node:
            return
        if count == "all":
            raise Refusal("FETCH ALL is not supported on single-node clusters", _INTERNAL_ERROR)
        if count.isdigit() and int(count) > SINGLE_NODE_FETCH_LIMIT:
            raise Refusal(FETCH_LIMIT_MESSAGE.format(count=int(count)), _INTERNAL_ERROR)

    def _declare(self, arguments: str, found: list[Token]) -> str:
        """``DECLARE``'s arguments, its query guarded by Redshift's cursor rules."""
        words = [token.text.lower() for token in found]
        if len(words) < 3 or words[1:3] != ["cursor", "for"]:
            options = " ".join(words[1 : words.index("for")] if "for" in words else words[1:])
            raise unsupported(f"DECLARE ... {options.upper()} (Redshift: DECLARE name CURSOR FOR)")
        name_token, offset = found[0], found[2].end + 1
        query, query_tokens = arguments[offset:], _shifted(found[3:], offset)
        screen(query, query_tokens)
        query = redirect_to_compat(query, query_tokens)
        name = name_token.text
        if name_token.token_type is not TokenType.IDENTIFIER:
            name = name.lower()
        guard = f"{COMPAT_SCHEMA}.declare_cursor({_literal(name)})"
        if self.cursor_bytes_cap is None:
            guarded = f"SELECT redshift_rows.* FROM ({query}\n) AS redshift_rows WHERE {guard}"
        else:
            size = "coalesce(sum(pg_catalog.pg_column_size(measured.*)), 0)"
            within = f"{COMPAT_SCHEMA}.cursor_result_within({size}, {int(self.cursor_bytes_cap)})"
            guarded = (
                f"WITH redshift_rows AS MATERIALIZED ({query}\n)"
                f" SELECT redshift_rows.* FROM redshift_rows WHERE {guard}"
                f" AND (SELECT {within} FROM redshift_rows AS measured)"
            )
        return f"{arguments[: found[2].end + 1]} {guarded}"


def _shifted(found: list[Token], offset: int) -> list[Token]:
    """Tokens of a text as positions in that text ``offset`` characters further on.

    A cursor's query is as long as the select list that renders a row; tokenizing it once, not
    again for each use, keeps the emulator from delaying every DECLARE.
    """
    return [
        Token(t.token_type, t.text, t.line, t.col, t.start - offset, t.end - offset, t.comments)
        for t in found
    ]


def refusal_statement(refusal: Refusal, parameters: int) -> str:
    """A statement raising ``refusal`` that still accepts ``parameters`` bind parameters."""
    call = (
        f"SELECT {COMPAT_SCHEMA}.refuse({_literal(refusal.sqlstate)}, {_literal(refusal.message)})"
    )
    if not parameters:
        return call
    bound = ", ".join(f"${number}::text" for number in range(1, parameters + 1))
    return f"{call} FROM (SELECT {bound}) AS bound_parameters"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
