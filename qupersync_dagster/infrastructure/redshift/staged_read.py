"""A window UNLOADed into S3 staging and read back as the cursor path's COPY lines.

The UNLOAD goes into a prefix of its own (a retry never reads another attempt's files), its
manifest is checked before anything is read, and the files are then streamed back concurrently
(``s3.parallel_read``). Whatever fails before the rows are handed over deletes what was staged;
after that, the engine discards the staging once the day's transaction has ended.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from functools import partial

from qupersync_dagster.domain.entities import Extraction, ExtractMethod, RowBatch, WindowRead
from qupersync_dagster.domain.errors import ConfigError
from qupersync_dagster.domain.repositories import Extract
from qupersync_dagster.infrastructure.redshift.copy_lines import copy_lines
from qupersync_dagster.infrastructure.redshift.row_text import RowLayout
from qupersync_dagster.infrastructure.s3.errors import StagingError
from qupersync_dagster.infrastructure.s3.parallel_read import read_staged
from qupersync_dagster.infrastructure.s3.settings import StagedLocation
from qupersync_dagster.infrastructure.s3.store import StagingStore

log = logging.getLogger(__name__)


def unloaded(
    read: WindowRead,
    layout: RowLayout,
    store: StagingStore,
    run_unload: Callable[[StagedLocation], None],
) -> Extract:
    """UNLOAD the window with ``run_unload``, check what was staged, and stream it."""
    location = store.location(read.spec.name, read.window.key)
    try:
        run_unload(location)
        manifest = store.manifest(location)
    except BaseException as error:
        store.delete(location)
        if isinstance(error, StagingError | ConfigError):
            raise type(error)(f"{read.what}: {error}") from error
        raise
    log.info(
        "%s: UNLOADed %d files, %d bytes, to %s",
        read.what,
        len(manifest.files),
        manifest.bytes_staged,
        location.url,
    )
    batches = read_staged(
        manifest.files,
        store.chunks,
        partial(_unloaded_batch, layout=layout),
        store.staging.readers,
    )
    extraction = Extraction(
        ExtractMethod.UNLOAD, read.choice.reason, len(manifest.files), manifest.bytes_staged
    )
    return Extract(_named(batches, read.what), extraction, partial(store.delete, location))


def _unloaded_batch(lines: bytes, rows: int, layout: RowLayout) -> RowBatch:
    return RowBatch(copy_lines(lines, rows, layout), rows)


def _named(batches: Iterator[RowBatch], what: str) -> Iterator[RowBatch]:
    """``batches``, a failure reading the staged files named with the table and partition."""
    try:
        yield from batches
    except (StagingError, ConfigError) as error:
        raise type(error)(f"{what}: {error}") from error
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()
