"""How far a window of the mirror is from its configured primary key.

The primary key check reports it; it is an entity of its own because the read model that counts
it sits behind a domain port, so the Dagster layer never depends on the PostgreSQL adapter.
"""

from __future__ import annotations

from typing import NamedTuple


class KeyViolations(NamedTuple):
    """How far a window's rows are from satisfying the configured primary key."""

    rows: int
    null_key_rows: int  # rows with NULL in any key column
    duplicate_keys: int  # distinct non-NULL keys held by more than one row
    duplicate_rows: int  # rows beyond the first of each such key
