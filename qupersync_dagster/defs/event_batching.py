"""A run's per-day materialisations go to Dagster's event log in batches, not one by one.

A single-run backfill of N days ends its asset step with N materialisations, one per day.
Written one at a time, each costs Dagster's PostgreSQL event log a connection of its own and
several statements (about 25 ms on a local server: 0.8 s for 30 days); written as a batch, one
connection and one INSERT. Dagster reads ``DAGSTER_EVENT_BATCH_SIZE`` at every event it stores
(0, its default: no batches) and falls back to single writes if a batch fails. The code locations
set it when the deployment has not, so the CLI, run workers and code servers all batch; the
events stored, their order and their content are the same.
"""

from __future__ import annotations

import os

EVENT_BATCH_SIZE = 100  # events per INSERT: a 30-day backfill's materialisations in one


def batch_event_writes() -> None:
    """Let Dagster store batched events together, unless ``DAGSTER_EVENT_BATCH_SIZE`` is set."""
    os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", str(EVENT_BATCH_SIZE))
