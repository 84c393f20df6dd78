"""The server's COPY lines become the text Redshift's UNLOAD writes, for any values."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from qupersync_dagster.devkit.redshift_emulator.unload import S3Prefix, Unload
from qupersync_dagster.devkit.redshift_emulator.unload_files import text_converter

# What the server's COPY writes (``Unload.copy_statement``): CSV separated by U+0001, quoted by
# U+0002 (doubled inside quotes), NULL as U+0003; PostgreSQL quotes a value holding a separator,
# a quote or a line break, or equal to the NULL mark or to the end-of-data marker.
SEPARATOR, QUOTE, NULL_MARK = "\x01", "\x02", "\x03"

# Text with what matters drawn often: the COPY's control characters, line breaks, backslashes,
# the delimiters and quotes UNLOAD writes.
VALUES = st.none() | st.text(
    st.sampled_from([SEPARATOR, QUOTE, NULL_MARK, "\n", "\r", "\\", ".", "|", ",", '"', "'", "é"])
    | st.characters(blacklist_categories=["Cs"], blacklist_characters="\0"),
    max_size=12,
)
ROWS = st.lists(st.lists(VALUES, min_size=1, max_size=4), max_size=6)


def copy_field(value: str | None) -> str:
    if value is None:
        return NULL_MARK
    if set(value) & {SEPARATOR, QUOTE, "\n", "\r"} or value in (NULL_MARK, "\\."):
        return QUOTE + value.replace(QUOTE, QUOTE * 2) + QUOTE
    return value


def copy_line(row: list[str | None]) -> bytes:
    return (SEPARATOR.join(map(copy_field, row)) + "\n").encode()


def convert(rows: list[list[str | None]], **options) -> bytes:
    unload = Unload(query="SELECT 1", to=S3Prefix("bucket", "p/"), **options)
    return text_converter(unload)([copy_line(row) for row in rows])


def redshift_text(rows, delimiter="|", null="", field=lambda value: value) -> bytes:
    lines = (delimiter.join(null if v is None else field(v) for v in row) + "\n" for row in rows)
    return "".join(lines).encode()


@given(ROWS)
def test_the_default_writes_values_as_they_are_joined_by_pipes_nulls_empty(rows) -> None:
    assert convert(rows) == redshift_text(rows)


@given(ROWS)
def test_delimiter_and_null_as_replace_the_separator_and_the_nulls(rows) -> None:
    converted = convert(rows, delimiter="\t", null_as="\\N")
    assert converted == redshift_text(rows, delimiter="\t", null="\\N")


@given(ROWS)
def test_escape_puts_a_backslash_before_line_breaks_the_delimiter_and_backslashes(rows) -> None:
    def escaped(value: str) -> str:
        return "".join("\\" + c if c in "\n\r|\\" else c for c in value)

    assert convert(rows, escape=True) == redshift_text(rows, field=escaped)


@given(ROWS)
def test_addquotes_quotes_every_field(rows) -> None:
    quoted = convert(rows, addquotes=True, null_as="nil")
    assert quoted == redshift_text(rows, null='"nil"', field=lambda value: f'"{value}"')
