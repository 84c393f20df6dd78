"""QuperSync's errors as Dagster failures, the same way for the assets and the checks.

Whether another attempt can help is the error's to say (``QuperSyncError.retryable``), not the
retry policy's: a cut connection is retried with backoff, a schema difference is not.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from qupersync_dagster.domain.errors import QuperSyncError


@contextmanager
def as_dagster_failure() -> Iterator[None]:
    """In the block, a ``QuperSyncError`` becomes a ``dg.Failure`` retried only if it may be."""
    try:
        yield
    except QuperSyncError as error:
        raise dg.Failure(description=str(error), allow_retries=error.retryable) from None
