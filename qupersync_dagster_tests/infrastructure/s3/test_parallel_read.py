"""Staged files read a few at a time arrive whole, once, and the first failure stops them all."""

from __future__ import annotations

import gzip
import threading

import pytest

from qupersync_dagster.infrastructure.s3.errors import StagingError
from qupersync_dagster.infrastructure.s3.manifest import StagedFile
from qupersync_dagster.infrastructure.s3.parallel_read import read_staged

FILES = {
    f"part_{n:02d}.gz": b"".join(b"f%d r%d\n" % (n, r) for r in range(3_000)) for n in range(7)
}
GZ = {key: gzip.compress(lines) for key, lines in FILES.items()}
STAGED = [StagedFile(key, len(data), 3_000) for key, data in GZ.items()]


def _chunks(key: str):
    data = GZ[key]
    return (data[i : i + 1000] for i in range(0, len(data), 1000))


@pytest.mark.parametrize("readers", [1, 3, 16])
def test_every_line_of_every_file_arrives_once(readers):
    batches = list(read_staged(STAGED, _chunks, lambda lines, n: (lines, n), readers))

    lines = sorted(b"".join(lines for lines, _ in batches).splitlines())
    assert lines == sorted(b"".join(FILES.values()).splitlines())
    assert sum(n for _, n in batches) == 7 * 3_000


def test_a_failing_file_stops_the_stream_with_its_error_and_every_reader_ends():
    def chunks(key: str):
        if key == "part_03.gz":
            raise StagingError("reading part_03.gz: S3 failed (ResponseStreamingError)")
        return _chunks(key)

    before = threading.active_count()
    with pytest.raises(StagingError, match="part_03.gz"):
        list(read_staged(STAGED, chunks, lambda lines, n: n, 3))
    assert threading.active_count() == before


def test_closing_the_stream_early_stops_the_readers():
    before = threading.active_count()
    stream = read_staged(STAGED, _chunks, lambda lines, n: n, 4)
    next(stream)
    stream.close()
    assert threading.active_count() == before


def test_no_file_is_no_batch():
    assert list(read_staged([], _chunks, lambda lines, n: n, 4)) == []
