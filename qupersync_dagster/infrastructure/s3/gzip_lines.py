"""One staged gzip file as batches of whole text lines, decompressed as it downloads.

No file is ever held whole: compressed chunks are inflated as they arrive and cut into batches
of about ``batch_bytes`` at line ends. The file must come to the manifest's size and row count
and end with a complete gzip stream and a line end; a download cut short or a truncated file is
refused before its last rows could be taken for the whole.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

from qupersync_dagster.infrastructure.s3.errors import StagingError
from qupersync_dagster.infrastructure.s3.manifest import StagedFile

BATCH_BYTES = 1 << 20
_GZIP = 16 + zlib.MAX_WBITS


def line_batches(
    chunks: Iterable[bytes], staged: StagedFile, batch_bytes: int = BATCH_BYTES
) -> Iterator[tuple[bytes, int]]:
    """``(lines, line count)`` of the file whose compressed ``chunks`` are given, in order."""
    inflate = zlib.decompressobj(_GZIP)
    pending = bytearray()
    received = rows = 0
    for chunk in chunks:
        received += len(chunk)
        data = chunk
        while data:
            pending += inflate.decompress(data, batch_bytes)  # bounded, whatever the ratio
            data = inflate.unconsumed_tail
            if inflate.eof and inflate.unused_data:  # the next member of a multi-member file
                data, inflate = inflate.unused_data, zlib.decompressobj(_GZIP)
            cut = pending.rfind(b"\n") + 1 if len(pending) >= batch_bytes else 0
            if cut:
                batch = bytes(pending[:cut])
                del pending[:cut]
                count = batch.count(b"\n")
                rows += count
                yield batch, count
    name = staged.key
    if received != staged.content_length:
        raise StagingError(
            f"{name}: {received} bytes read, the manifest says {staged.content_length}"
        )
    if received and not inflate.eof:
        raise StagingError(f"{name}: the gzip stream ends early (a truncated file)")
    if pending and not pending.endswith(b"\n"):
        raise StagingError(f"{name}: the last line is not complete")
    if pending:
        count = pending.count(b"\n")
        rows += count
        yield bytes(pending), count
    if staged.record_count is not None and rows != staged.record_count:
        raise StagingError(f"{name}: {rows} rows read, the manifest says {staged.record_count}")
