"""Redshift's UNLOAD statement, read and judged as a cluster does, and what the server runs for it.

sqlglot cannot parse UNLOAD, and PostgreSQL has no such statement, so the emulator reads its
outer syntax here (``UNLOAD ('select-statement') TO 's3://bucket/prefix' authorization
[option ...]``, options in any order, as the Redshift SQL reference lists them), refuses what a
cluster refuses, and screens the inner query like any other statement. The server then runs
``COPY (query) TO STDOUT``: the session's own settings render the values, its privileges and its
transaction apply, and the rows stream through the emulator (``unload_files``) to S3.

The quoted query is a Redshift string literal: a quote is doubled (or written ``\\'``) and a
backslash escapes the character after it, so a backslash meant for the query is written twice.
Options the emulator does not write (other formats, encryption, partitions, fixed width) are
refused with an error saying so rather than ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from qupersync_dagster.devkit.redshift_emulator.screening import (
    FEATURE_NOT_SUPPORTED,
    Refusal,
    redirect_to_compat,
    screen,
    tokens,
)

SYNTAX_ERROR = "42601"
INVALID_PARAMETER = "22023"
_INTERNAL_ERROR = "XX000"
MB = 1024 * 1024
_MIN_FILE_SIZE = 5 * MB
_MAX_FILE_SIZE = int(6.2 * 1024 * MB)
COMPRESSIONS = {"gzip": ".gz", "bzip2": ".bz2", "zstd": ".zst"}
_NOT_EMULATED = {
    "csv": "FORMAT CSV",
    "parquet": "FORMAT PARQUET",
    "json": "FORMAT JSON",
    "partition": "PARTITION BY",
    "fixedwidth": "FIXEDWIDTH",
    "encrypted": "ENCRYPTED",
    "kms_key_id": "KMS_KEY_ID",
    "master_symmetric_key": "MASTER_SYMMETRIC_KEY",
    "rowgroupsize": "ROWGROUPSIZE",
}
_STATEMENT = re.compile(r"^\s*unload\b", re.IGNORECASE)
_WORDS = re.compile(r"\s*(?:(')|([A-Za-z_][A-Za-z0-9_]*)|(\d+(?:\.\d+)?)|([(),]))", re.DOTALL)
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "b": "\b", "f": "\f"}
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_S3_URL = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(.*)$", re.DOTALL)


@dataclass(frozen=True)
class S3Prefix:
    """Where an UNLOAD writes: a bucket, and the key prefix every file name starts with."""

    bucket: str
    prefix: str

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"


@dataclass(frozen=True)
class Unload:
    """One UNLOAD statement: the query, where its files go, and how they are written."""

    query: str
    to: S3Prefix
    region: str | None = None
    parallel: bool = True
    compression: str | None = None
    manifest: bool = False
    verbose: bool = False
    header: bool = False
    delimiter: str = "|"
    null_as: str = ""
    escape: bool = False
    addquotes: bool = False
    allow_overwrite: bool = False
    clean_path: bool = False
    max_file_size: int = _MAX_FILE_SIZE

    @property
    def copy_statement(self) -> str:
        """What the server runs: the rows streamed to the client as ``unload_files`` reads them.

        CSV with control characters for separator (U+0001), quote (U+0002) and NULL (U+0003):
        a value is then written as it is unless it holds one of them or a line break.
        """
        return (
            f"COPY ({self.query}\n) TO STDOUT WITH (FORMAT csv, DELIMITER E'\\x01',"
            " QUOTE E'\\x02', NULL E'\\x03')"
        )

    @property
    def bucket(self) -> str:
        return self.to.bucket

    @property
    def prefix(self) -> str:
        return self.to.prefix

    def url(self, key: str) -> str:
        return self.to.url(key)


def is_unload(sql: str) -> bool:
    return _STATEMENT.match(sql) is not None


def parse(sql: str) -> Unload:
    """The UNLOAD in ``sql``, or a ``Refusal`` with the error Redshift gives for it."""
    reader = _Reader(sql, _STATEMENT.match(sql).end())  # type: ignore[union-attr]
    reader.expect("(")
    query = reader.literal("the quoted SELECT statement")
    reader.expect(")")
    reader.expect_word("to")
    to = S3Prefix(*_s3_location(reader.literal("the S3 path")))
    settings: dict[str, object] = {}
    seen: set[str] = set()
    authorization: list[str] = []
    while not reader.at_end():
        word = reader.word()
        if word == "format":
            reader.optional_word("as")
            word = reader.word()
        if word in _NOT_EMULATED:
            raise Refusal(
                f"UNLOAD option {_NOT_EMULATED[word]} is not emulated by the QuperSync Redshift "
                "emulator (it writes delimited text)",
                FEATURE_NOT_SUPPORTED,
            )
        if word in seen:
            raise Refusal(f"conflicting or redundant options: {word.upper()}", SYNTAX_ERROR)
        seen.add(word)
        _option(reader, word, settings, authorization)
    _check(seen, authorization)
    query = _screened(query)
    return Unload(query=query, to=to, **settings)  # type: ignore[arg-type]


def _option(reader: _Reader, word: str, settings: dict[str, object], auth: list[str]) -> None:
    if word == "iam_role":
        role = "default" if reader.optional_word("default") else reader.literal("IAM_ROLE")
        if role != "default" and not all(_ROLE_ARN.match(r) for r in role.split(",")):
            raise Refusal(f"Invalid IAM role ARN format: {role}", INVALID_PARAMETER)
        auth.append(word)
    elif word in ("access_key_id", "secret_access_key", "session_token", "credentials"):
        if word == "credentials":
            reader.optional_word("as")
        if not reader.literal(word.upper()).strip():
            raise Refusal(f"{word.upper()} is empty", INVALID_PARAMETER)
        auth.append(word)
    elif word == "manifest":
        settings["manifest"] = True
        settings["verbose"] = reader.optional_word("verbose")
    elif word == "verbose":
        raise Refusal("VERBOSE may only follow MANIFEST", SYNTAX_ERROR)
    elif word in COMPRESSIONS:
        if "compression" in settings:
            raise Refusal(
                "conflicting or redundant options: more than one compression", SYNTAX_ERROR
            )
        settings["compression"] = word
    elif word in ("header", "escape", "addquotes", "allowoverwrite", "cleanpath"):
        name = {"allowoverwrite": "allow_overwrite", "cleanpath": "clean_path"}.get(word, word)
        settings[name] = True
    elif word == "delimiter":
        reader.optional_word("as")
        delimiter = reader.literal("DELIMITER")
        if len(delimiter) != 1 or not delimiter.isascii():
            raise Refusal("DELIMITER must be a single ASCII character", INVALID_PARAMETER)
        settings["delimiter"] = delimiter
    elif word == "null":
        reader.optional_word("as")
        settings["null_as"] = reader.literal("NULL AS")
    elif word == "parallel":
        value = reader.optional_word("on", "true", "off", "false")
        settings["parallel"] = value in (None, "on", "true")
    elif word == "maxfilesize":
        reader.optional_word("as")
        settings["max_file_size"] = _file_size(reader)
    elif word == "region":
        reader.optional_word("as")
        settings["region"] = reader.literal("REGION")
    else:
        raise Refusal(f'syntax error at or near "{word}"', SYNTAX_ERROR)


def _check(seen: set[str], authorization: list[str]) -> None:
    if not authorization:
        raise Refusal(
            "UNLOAD needs authorization to write to Amazon S3: IAM_ROLE, ACCESS_KEY_ID and "
            "SECRET_ACCESS_KEY, or CREDENTIALS",
            INVALID_PARAMETER,
        )
    if "iam_role" in seen and len(authorization) > 1:
        raise Refusal(
            "IAM_ROLE can't be used with ACCESS_KEY_ID, SECRET_ACCESS_KEY, SESSION_TOKEN or "
            "CREDENTIALS",
            INVALID_PARAMETER,
        )
    keys = {"access_key_id", "secret_access_key"} & seen
    if keys and (len(keys) != 2 or "credentials" in seen):
        raise Refusal(
            "ACCESS_KEY_ID and SECRET_ACCESS_KEY go together, and never with CREDENTIALS",
            INVALID_PARAMETER,
        )
    if "session_token" in seen and not keys:
        raise Refusal("SESSION_TOKEN needs ACCESS_KEY_ID and SECRET_ACCESS_KEY", INVALID_PARAMETER)
    if {"allowoverwrite", "cleanpath"} <= seen:
        raise Refusal(
            "You can't specify the CLEANPATH option if you specify the ALLOWOVERWRITE option",
            INVALID_PARAMETER,
        )


def _s3_location(url: str) -> tuple[str, str]:
    match = _S3_URL.match(url)
    if match is None:
        raise Refusal(
            f"Invalid S3 path {url!r}: UNLOAD writes to 's3://bucket/name-prefix'",
            INVALID_PARAMETER,
        )
    return match[1], match[2]


def _file_size(reader: _Reader) -> int:
    number = float(reader.number("MAXFILESIZE"))
    unit = reader.optional_word("mb", "gb") or "mb"
    size = int(number * (1024 if unit == "gb" else 1) * MB)
    if not _MIN_FILE_SIZE <= size <= _MAX_FILE_SIZE:
        raise Refusal("MAXFILESIZE must be between 5 MB and 6.2 GB", INVALID_PARAMETER)
    return size


def _screened(query: str) -> str:
    """The inner query under the session's rules, refused if Redshift would refuse it here."""
    found = tokens(query)
    if not found or found[0].text.lower() not in ("select", "with", "("):
        raise Refusal("UNLOAD unloads the result of a SELECT statement", SYNTAX_ERROR)
    screen(query, found)
    try:
        parsed = sqlglot.parse_one(query, read="postgres")
    except SqlglotError:
        parsed = None
    if isinstance(parsed, exp.Query) and parsed.args.get("limit") is not None:
        raise Refusal(
            "LIMIT in the outer SELECT of UNLOAD is not supported by Amazon Redshift: "
            "nest it in a subquery",
            FEATURE_NOT_SUPPORTED,
        )
    return redirect_to_compat(query, found)


class _Reader:
    """Reads the words, numbers, punctuation and string literals after ``UNLOAD``."""

    def __init__(self, sql: str, position: int) -> None:
        self._sql = sql.rstrip().removesuffix(";")
        self._at = position

    def at_end(self) -> bool:
        return not self._sql[self._at :].strip()

    def _next(self) -> tuple[str, str]:
        match = _WORDS.match(self._sql, self._at)
        if match is None:
            near = self._sql[self._at :].strip()[:20] or "end of input"
            raise Refusal(f'syntax error at or near "{near}"', SYNTAX_ERROR)
        kind = ("quote", "word", "number", "punctuation")[match.lastindex - 1]  # type: ignore[operator]
        if kind == "quote":
            return kind, ""
        self._at = match.end()
        return kind, match[match.lastindex].lower()  # type: ignore[index]

    def _peek(self) -> tuple[str, str]:
        at = self._at
        try:
            return self._next()
        finally:
            self._at = at

    def expect(self, punctuation: str) -> None:
        kind, text = self._next()
        if (kind, text) != ("punctuation", punctuation):
            raise Refusal(f'syntax error at or near "{text or "end of input"}"', SYNTAX_ERROR)

    def expect_word(self, word: str) -> None:
        if self.word() != word:
            raise Refusal(f"syntax error: {word.upper()} expected", SYNTAX_ERROR)

    def word(self) -> str:
        kind, text = self._next()
        if kind != "word":
            near = text or "'"
            raise Refusal(f'syntax error at or near "{near}"', SYNTAX_ERROR)
        return text

    def optional_word(self, *words: str) -> str | None:
        if self.at_end():
            return None
        kind, text = self._peek()
        if kind == "word" and text in words:
            self._next()
            return text
        return None

    def number(self, what: str) -> str:
        kind, text = self._next()
        if kind != "number":
            raise Refusal(f"{what} expects a number", SYNTAX_ERROR)
        return text

    def literal(self, what: str) -> str:
        """A quoted string: ``''`` and ``\\'`` are quotes, a backslash escapes what follows."""
        sql, at = self._sql, self._sql.find("'", self._at)
        if at < 0 or sql[self._at : at].strip():
            raise Refusal(f"{what} must be a quoted string", SYNTAX_ERROR)
        out: list[str] = []
        at += 1
        while at < len(sql):
            char = sql[at]
            if char == "\\" and at + 1 < len(sql):
                out.append(_ESCAPES.get(sql[at + 1], sql[at + 1]))
                at += 2
            elif char == "'" and sql[at + 1 : at + 2] == "'":
                out.append("'")
                at += 2
            elif char == "'":
                self._at = at + 1
                return "".join(out)
            else:
                out.append(char)
                at += 1
        raise Refusal("unterminated quoted string", SYNTAX_ERROR)
