"""The Dagster UI's "Materialize" of one partition, timed from the click to the run's end.

The request is the UI's own (``qupersync_dagster.demo.graphql.launch_run``); this module polls the
run until it ends, keeping the timestamps Dagster records.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from qupersync_dagster.demo.graphql import FINISHED, LaunchTarget, launch_run, run_status

POLL_S = 0.1


@dataclass(frozen=True)
class RunTimes:
    """Seconds from the click (the mutation sent) to each moment of one run."""

    status: str
    dequeued: float  # the daemon took the run off the queue (first poll not QUEUED)
    started: float  # the run worker began executing (Dagster's startTime)
    ended: float  # Dagster's endTime

    @property
    def queue(self) -> float:
        return self.started

    @property
    def run(self) -> float:
        return self.ended - self.started


def click(url: str, target: LaunchTarget, partition: str) -> RunTimes:
    """Launch ``partition`` as the UI's Materialize does; wait for the run to end."""
    clicked = time.time()
    run_id = launch_run(url, target, partition)
    dequeued = None
    while True:
        run = run_status(url, run_id)
        if dequeued is None and run["status"] != "QUEUED":
            dequeued = time.time() - clicked
        if run["status"] in FINISHED:
            break
        time.sleep(POLL_S)
    start = run["startTime"] or run["endTime"]
    return RunTimes(
        status=run["status"],
        dequeued=dequeued,
        started=start - clicked,
        ended=run["endTime"] - clicked,
    )
