"""What the connected cluster allows, asked of the cluster itself.

Redshift refuses ``FETCH FORWARD n`` with n over 1,000 on a single-node cluster ("exceeds the
limit of 1000 for a single node configuration"), so the rows per FETCH depend on the node count.
Asking once per connection costs one small catalogue query; guessing wrong fails a day.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import redshift_connector

from qupersync_dagster.infrastructure.redshift import sql

log = logging.getLogger(__name__)

_FIRST_FETCH = 1000


def node_count(conn: redshift_connector.Connection) -> int | None:
    """The cluster's compute nodes (``STV_SLICES``), None when the cluster does not say.

    Ends the transaction it opened, whatever the outcome.
    """
    cursor = conn.cursor()
    try:
        cursor.execute(sql.NODE_COUNT)
        row = cursor.fetchone()
        return int(row[0]) or None if row else None
    except redshift_connector.ProgrammingError:
        log.info("STV_SLICES is not readable; assuming a single-node cluster", exc_info=True)
        return None
    finally:
        conn.rollback()


def fetch_limit(nodes: int | None, configured: int) -> int:
    """Rows per FETCH: the configured size, capped on a single node (or an unknown count)."""
    if nodes is None or nodes <= 1:
        return min(configured, sql.SINGLE_NODE_FETCH_LIMIT)
    return configured


def fetch_sizes(limit: int) -> Iterator[int]:
    """Rows per FETCH: few at first, doubling up to ``limit``.

    The target waits for a partition's first batch, so a small first FETCH lets it start within
    milliseconds; the larger ones that follow keep the number of round trips low.
    """
    size = min(_FIRST_FETCH, limit)
    while True:
        yield size
        size = min(2 * size, limit)
