"""The client-side COPY text escaping must round-trip every string PostgreSQL would read back.

Wide columns and SUPER values are escaped on the client, so a value with a tab, a newline or a
backslash that escaped wrongly would shift or corrupt the row in the target. The reference decoder
is written from PostgreSQL's COPY documentation, independently of the code under test.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from qupersync_dagster.domain.services.copy_text import NULL_BYTES
from qupersync_dagster_tests.domain.fakes import (
    encode_row,
    escape,
    parse_copy_text,
    unescape_copy_field,
)

NULL = NULL_BYTES.decode()

# PostgreSQL text cannot hold NUL; everything else, control characters included, is fair game.
TEXT = st.text(
    alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
    max_size=40,
)
AWKWARD = st.sampled_from(["", "\\N", "\\", "\\\\N", "\t", "\n", "\r\n", "\\.", "N", "a\\tb"])
FIELD = st.one_of(st.none(), TEXT, AWKWARD)


@given(FIELD)
def test_an_escaped_field_reads_back_as_the_original_value(value):
    assert unescape_copy_field(escape(value)) == value


@given(TEXT)
def test_an_escaped_field_never_contains_a_raw_separator(value):
    escaped = escape(value)
    assert not {"\t", "\n", "\r"} & set(escaped)


@given(st.lists(FIELD, min_size=1, max_size=6), st.integers(min_value=1, max_value=4))
def test_encoded_rows_read_back_as_the_original_rows(fields, copies):
    payload = "".join(encode_row(fields) + "\n" for _ in range(copies)).encode("utf-8")
    assert parse_copy_text(payload) == [tuple(fields)] * copies


def test_null_and_the_text_backslash_n_are_told_apart():
    assert escape(None) == NULL
    assert escape("\\N") == "\\\\N"
    assert unescape_copy_field(escape("\\N")) == "\\N"


def test_an_empty_string_is_not_null():
    assert escape("") == ""
    assert parse_copy_text(encode_row(["", None]).encode() + b"\n") == [("", None)]
