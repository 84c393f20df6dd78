"""The write path picked for a day, for every combination the sync can ask for."""

from __future__ import annotations

import pytest

from qupersync_dagster.domain.entities import SyncMode
from qupersync_dagster.infrastructure.postgres.write_strategy import Strategy, choose


class Asked:
    """Answers whether the window has rows, and remembers being asked."""

    def __init__(self, answer: bool):
        self.answer = answer
        self.times = 0

    def __call__(self) -> bool:
        self.times += 1
        return self.answer


@pytest.mark.parametrize(
    ("mode", "keyed", "has_rows", "full_window", "strategy", "asked"),
    [
        (SyncMode.REPLACE, False, True, True, Strategy.COPY, 0),
        (SyncMode.REPLACE, True, False, True, Strategy.COPY, 1),
        (SyncMode.REPLACE, True, True, True, Strategy.KEYED_DIFF, 1),
        (SyncMode.UPSERT, True, True, False, Strategy.MERGE, 0),
        (SyncMode.UPSERT, True, True, True, Strategy.MERGE_AND_PRUNE, 0),
    ],
)
def test_each_day_gets_its_path_and_the_window_is_asked_about_only_when_it_matters(
    mode, keyed, has_rows, full_window, strategy, asked
):
    window_has_rows = Asked(has_rows)

    chosen = choose(mode, keyed=keyed, full_window=full_window, window_has_rows=window_has_rows)

    assert chosen is strategy
    assert window_has_rows.times == asked
