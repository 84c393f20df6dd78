"""How a day's rows are written: the one place that picks the write path for a partition.

Three paths mean nearly the same thing (make the stored window agree with the new rows); they
differ in what they cost and in what they promise about keys, so the choice is written once here:

=========  =====  ================  ===========  =======================================
mode       keyed  window has rows   full window  strategy
=========  =====  ================  ===========  =======================================
replace    no     (not asked)       yes          COPY: delete the window, COPY the rows in
replace    yes    no                yes          COPY
replace    yes    yes               yes          KEYED_DIFF: stage by key, rewrite the
                                                 rows that differ
upsert     yes    (not asked)       no           MERGE: stage, insert or update by key
upsert     yes    (not asked)       yes          MERGE_AND_PRUNE: MERGE, then delete the
                                                 window's keys the rows lack
=========  =====  ================  ===========  =======================================

Why a keyed replace of a stored day diffs: re-inserting a key deleted in the same transaction
makes the unique index visit the dead row for every key, which made a restated day slower to
write than its first load. Staging and comparing by key touches only the few percent of a day a
restatement changes. Whether the window holds rows is asked only when the answer matters, so a
day's transaction sends no statement the chosen path does not need.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from qupersync_dagster.domain.entities import SyncMode


class Strategy(Enum):
    COPY = "delete the window, COPY the rows straight into the table"
    KEYED_DIFF = "stage by key, delete and insert only the rows that differ"
    MERGE = "stage, insert or update by key"
    MERGE_AND_PRUNE = "stage, insert or update by key, delete the window's absent keys"


def choose(
    mode: SyncMode, *, keyed: bool, full_window: bool, window_has_rows: Callable[[], bool]
) -> Strategy:
    """The write path for a day, per the table above."""
    if mode is SyncMode.UPSERT:
        return Strategy.MERGE_AND_PRUNE if full_window else Strategy.MERGE
    if keyed and window_has_rows():
        return Strategy.KEYED_DIFF
    return Strategy.COPY
