"""The Dagster UI's "Materialize" of one partition, sent to the webserver's GraphQL API.

For one partition of one asset the UI's dialog ("Launch 1 run") sends ``launchPipelineExecution``
on the asset's implicit job (``__ASSET_JOB``) with the asset and all of its checks selected and
the partition as the ``dagster/partition`` tag (Dagster 1.13,
``LaunchAssetChoosePartitionsDialog.tsx`` and ``executionParamsForAssetJob``). This module sends
the same, then polls the run until it ends, keeping the timestamps Dagster records.
"""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass

POLL_S = 0.1
_DONE = {"SUCCESS", "FAILURE", "CANCELED"}

_ASSET_QUERY = """
query Asset($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) {
    __typename
    ... on AssetNode {
      jobNames
      repository { name location { name } }
      assetChecksOrError { ... on AssetChecks { checks { name } } }
    }
  }
}
"""

_LAUNCH = """
mutation Launch($executionParams: ExecutionParams!) {
  launchPipelineExecution(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""

_RUN = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    ... on Run { status creationTime startTime endTime }
  }
}
"""


@dataclass(frozen=True)
class LaunchTarget:
    location: str
    repository: str
    job: str
    asset: str
    checks: tuple[str, ...]


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


def _post(url: str, query: str, variables: dict) -> dict:
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        document = json.load(response)
    if document.get("errors"):
        raise RuntimeError(f"GraphQL error: {document['errors']}")
    return document["data"]


def launch_target(url: str, asset: str) -> LaunchTarget:
    """The job, code location and checks the UI would launch ``asset`` with."""
    node = _post(url, _ASSET_QUERY, {"key": {"path": [asset]}})["assetNodeOrError"]
    if node["__typename"] != "AssetNode":
        raise RuntimeError(f"no asset {asset!r} in the UI: {node['__typename']}")
    implicit = [job for job in node["jobNames"] if job.startswith("__ASSET_JOB")]
    checks = (node["assetChecksOrError"] or {}).get("checks") or []
    return LaunchTarget(
        location=node["repository"]["location"]["name"],
        repository=node["repository"]["name"],
        job=(implicit or node["jobNames"])[0],
        asset=asset,
        checks=tuple(check["name"] for check in checks),
    )


def click(url: str, target: LaunchTarget, partition: str) -> RunTimes:
    """Launch ``partition`` as the UI's Materialize does; wait for the run to end."""
    key = {"path": [target.asset]}
    params = {
        "mode": "default",
        "runConfigData": "{}",
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": partition}]},
        "selector": {
            "repositoryLocationName": target.location,
            "repositoryName": target.repository,
            "pipelineName": target.job,
            "assetSelection": [key],
            "assetCheckSelection": [{"assetKey": key, "name": name} for name in target.checks],
        },
    }
    clicked = time.time()
    launched = _post(url, _LAUNCH, {"executionParams": params})["launchPipelineExecution"]
    if launched["__typename"] != "LaunchRunSuccess":
        raise RuntimeError(f"launch refused: {launched}")
    run_id = launched["run"]["runId"]
    dequeued = None
    while True:
        run = _post(url, _RUN, {"runId": run_id})["runOrError"]
        if dequeued is None and run["status"] != "QUEUED":
            dequeued = time.time() - clicked
        if run["status"] in _DONE:
            break
        time.sleep(POLL_S)
    start = run["startTime"] or run["endTime"]
    return RunTimes(
        status=run["status"],
        dequeued=dequeued,
        started=start - clicked,
        ended=run["endTime"] - clicked,
    )
