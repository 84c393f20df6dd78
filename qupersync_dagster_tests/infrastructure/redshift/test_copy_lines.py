"""UNLOADed lines turn into the COPY lines the cursor path would have produced."""

from __future__ import annotations

import json

from qupersync_dagster.domain.services.copy_text import escape_bytes
from qupersync_dagster.infrastructure.redshift.copy_lines import copy_lines
from qupersync_dagster.infrastructure.redshift.row_text import SPILL_BYTES, RowLayout

# One group of four fields; the SUPER columns at positions 1 and 3 spill when long.
LAYOUT = RowLayout(groups=1, spills=(1, 3))
LONG = json.dumps({"k": "tab\there \\ " * 2_000}, separators=(",", ":")).encode()


def test_lines_without_spilled_values_lose_their_empty_spill_fields():
    unloaded = b"a\t{}\tb\t\\N\t\t\nc\t[1]\td\t{}\t\t\n"
    assert copy_lines(unloaded, 2, LAYOUT) == b"a\t{}\tb\t\\N\nc\t[1]\td\t{}\n"


def test_spill_fields_written_as_json_null_are_empty_too():
    unloaded = b"a\t{}\tb\t\\N\tnull\tnull\n"
    assert copy_lines(unloaded, 1, LAYOUT) == b"a\t{}\tb\t\\N\n"


def test_a_spilled_value_is_escaped_into_its_placeholder_field():
    assert len(LONG) > SPILL_BYTES
    unloaded = b"a\t{}\tb\t\t\t" + LONG + b"\n" + b"c\t\td\t\\N\t" + LONG + b"\t\n"

    assert copy_lines(unloaded, 2, LAYOUT) == (
        b"a\t{}\tb\t" + escape_bytes(LONG) + b"\n" + b"c\t" + escape_bytes(LONG) + b"\td\t\\N\n"
    )


def test_a_layout_without_spills_is_the_copy_text_already():
    data = b"a\tb\n\\N\t\n"
    assert copy_lines(data, 2, RowLayout(groups=2)) is data
