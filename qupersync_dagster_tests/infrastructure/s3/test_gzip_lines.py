"""A staged gzip file becomes line-aligned batches as it downloads, and a damaged one is refused."""

from __future__ import annotations

import gzip
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qupersync_dagster.infrastructure.s3.errors import StagingError
from qupersync_dagster.infrastructure.s3.gzip_lines import line_batches
from qupersync_dagster.infrastructure.s3.manifest import StagedFile

LINES = b"".join(b"row %d\tcost %d.25\t\\N\n" % (n, n) for n in range(5_000))


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def _read(compressed: bytes, rows: int | None, chunk: int = 4096, batch: int = 8192):
    staged = StagedFile("part", len(compressed), rows)
    return list(line_batches(_chunks(compressed, chunk), staged, batch))


@given(
    cuts=st.lists(st.integers(0, len(LINES)), max_size=3),
    chunk=st.integers(1, 20_000),
    batch=st.integers(1, 50_000),
)
@settings(max_examples=40, deadline=None)
def test_every_line_arrives_once_whole_whatever_the_chunks_members_and_batch_size(
    cuts, chunk, batch
):
    bounds = sorted({0, len(LINES), *(LINES.rfind(b"\n", 0, c) + 1 for c in cuts)})
    members = b"".join(gzip.compress(LINES[a:b]) for a, b in pairwise(bounds))

    batches = _read(members, 5_000, chunk, batch)

    assert b"".join(lines for lines, _ in batches) == LINES
    assert all(lines.endswith(b"\n") for lines, _ in batches)
    assert sum(count for _, count in batches) == 5_000
    assert all(count == lines.count(b"\n") for lines, count in batches)


def test_a_batch_is_bounded_however_well_the_file_compresses():
    repetitive = b"x" * 100 + b"\n"
    compressed = gzip.compress(repetitive * 200_000)  # 20 MB inflated, a few KB compressed

    batches = _read(compressed, 200_000, chunk=len(compressed), batch=1 << 20)

    assert max(len(lines) for lines, _ in batches) < 2 * (1 << 20)
    assert sum(count for _, count in batches) == 200_000


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda gz: gz[: len(gz) // 2], "bytes read, the manifest says"),
        (lambda gz: gz[:-8], "bytes read, the manifest says"),
    ],
    ids=["cut-in-half", "no-trailer"],
)
def test_a_file_shorter_than_its_manifest_entry_is_refused(damage, message):
    compressed = gzip.compress(LINES)
    staged = StagedFile("part", len(compressed), 5_000)
    with pytest.raises(StagingError, match=message):
        list(line_batches(_chunks(damage(compressed), 4096), staged))


def test_a_truncated_stream_whose_size_matches_is_still_refused():
    truncated = gzip.compress(LINES)[:-8]
    with pytest.raises(StagingError, match="the gzip stream ends early"):
        _read(truncated, None)


def test_a_row_count_other_than_the_manifest_says_is_refused():
    with pytest.raises(StagingError, match="5000 rows read, the manifest says 5001"):
        _read(gzip.compress(LINES), 5_001)


def test_a_last_line_without_its_end_is_refused():
    with pytest.raises(StagingError, match="the last line is not complete"):
        _read(gzip.compress(LINES + b"half a row"), None)


def test_an_empty_file_has_no_rows():
    assert _read(gzip.compress(b""), 0) == []
    assert list(line_batches([], StagedFile("part", 0, 0))) == []
