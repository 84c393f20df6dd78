"""What the Dagster UI sends to the webserver's GraphQL API, for code that drives the demo headless.

The benchmark times a Materialize click and the tests launch backfills with these very requests,
so they take the path a user's click takes: the webserver, the daemon's queue, a run worker. The
parameters are those of Dagster 1.13's launch dialog (``LaunchAssetChoosePartitionsDialog.tsx``):
one partition is "Launch 1 run", ``launchPipelineExecution`` on the asset's implicit job
(``__ASSET_JOB``) with the asset, all of its checks and the ``dagster/partition`` tag
(``executionParamsForAssetJob``); several partitions are "Launch backfill",
``launchPartitionBackfill`` with the assets and the partition keys, which the daemon turns into
runs as each asset's backfill policy says.
"""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

FINISHED = frozenset({"SUCCESS", "FAILURE", "CANCELED"})
POLL_S = 0.5

_ASSET = """
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
_LAUNCH_RUN = """
mutation Launch($executionParams: ExecutionParams!) {
  launchPipelineExecution(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""
_LAUNCH_BACKFILL = """
mutation Backfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}
"""
_BACKFILL_RUNS = """
query Backfill($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    __typename
    ... on PartitionBackfill { status runs(limit: 100) { runId } }
  }
}
"""
_RUN = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    ... on Run { status creationTime startTime endTime tags { key value } }
  }
}
"""
_MATERIALIZATIONS = """
query Materializations($key: AssetKeyInput!, $partitions: [String!]) {
  assetOrError(assetKey: $key) {
    __typename
    ... on Asset {
      assetMaterializations(partitions: $partitions) {
        partition runId timestamp
        metadataEntries {
          label __typename
          ... on IntMetadataEntry { intValue }
          ... on FloatMetadataEntry { floatValue }
          ... on TextMetadataEntry { text }
          ... on BoolMetadataEntry { boolValue }
        }
      }
    }
  }
}
"""
_VALUE_FIELDS = ("intValue", "floatValue", "text", "boolValue")


class GraphQLError(RuntimeError):
    """The webserver answered with errors, or refused what was asked."""


def graphql(
    url: str, query: str, variables: dict[str, Any] | None = None, *, timeout_s: float = 60.0
) -> dict[str, Any]:
    """The ``data`` of one request to the webserver at ``url``."""
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        document = json.load(response)
    if document.get("errors"):
        raise GraphQLError(f"GraphQL error: {document['errors']}")
    return document["data"]


@dataclass(frozen=True)
class LaunchTarget:
    location: str
    repository: str
    job: str
    asset: str
    checks: tuple[str, ...]


def launch_target(url: str, asset: str) -> LaunchTarget:
    """The job, code location and checks the UI would launch ``asset`` with."""
    node = graphql(url, _ASSET, {"key": {"path": [asset]}})["assetNodeOrError"]
    if node["__typename"] != "AssetNode":
        raise GraphQLError(f"no asset {asset!r} in the UI: {node['__typename']}")
    implicit = [job for job in node["jobNames"] if job.startswith("__ASSET_JOB")]
    checks = (node["assetChecksOrError"] or {}).get("checks") or []
    return LaunchTarget(
        location=node["repository"]["location"]["name"],
        repository=node["repository"]["name"],
        job=(implicit or node["jobNames"])[0],
        asset=asset,
        checks=tuple(check["name"] for check in checks),
    )


def launch_run(url: str, target: LaunchTarget, partition: str) -> str:
    """Materialize ``partition`` as the UI's "Launch 1 run" does; the run's id."""
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
    launched = graphql(url, _LAUNCH_RUN, {"executionParams": params})["launchPipelineExecution"]
    if launched["__typename"] != "LaunchRunSuccess":
        raise GraphQLError(f"launch refused: {launched}")
    return launched["run"]["runId"]


def launch_backfill(url: str, assets: list[str], partitions: list[str]) -> str:
    """Materialize ``partitions`` of ``assets`` as the UI's "Launch backfill" does; its id."""
    params = {
        "tags": [],
        "assetSelection": [{"path": [asset]} for asset in assets],
        "partitionNames": partitions,
        "fromFailure": False,
    }
    launched = graphql(url, _LAUNCH_BACKFILL, {"backfillParams": params})
    backfill = launched["launchPartitionBackfill"]
    if backfill["__typename"] != "LaunchBackfillSuccess":
        raise GraphQLError(f"backfill refused: {backfill}")
    return backfill["backfillId"]


def submitted_runs(url: str, backfill_id: str, timeout_s: float) -> list[str]:
    """The ids of the runs the daemon has submitted for the backfill, once there is one."""
    deadline = time.monotonic() + timeout_s
    while True:
        backfill = graphql(url, _BACKFILL_RUNS, {"backfillId": backfill_id})
        found = backfill["partitionBackfillOrError"]
        if found["__typename"] != "PartitionBackfill":
            raise GraphQLError(f"no backfill {backfill_id}: {found}")
        # REQUESTED until the daemon has submitted every run and each has ended.
        if found["runs"] or found["status"] != "REQUESTED":
            return [run["runId"] for run in found["runs"]]
        if time.monotonic() > deadline:
            raise TimeoutError(f"backfill {backfill_id} had no run after {timeout_s:.0f} s")
        time.sleep(POLL_S)


def run_status(url: str, run_id: str) -> dict[str, Any]:
    """The run's status, Dagster's timestamps of it (seconds) and its tags."""
    run = graphql(url, _RUN, {"runId": run_id})["runOrError"]
    run["tags"] = {tag["key"]: tag["value"] for tag in run["tags"]}
    return run


def finished_run(url: str, run_id: str, timeout_s: float) -> dict[str, Any]:
    """:func:`run_status` once the run has ended."""
    deadline = time.monotonic() + timeout_s
    while (run := run_status(url, run_id))["status"] not in FINISHED:
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id} still {run['status']} after {timeout_s:.0f} s")
        time.sleep(POLL_S)
    return run


@dataclass(frozen=True)
class Materialization:
    partition: str | None
    run_id: str
    metadata: dict[str, Any]  # label: its number, text or boolean (None for other kinds)
    kinds: dict[str, str]  # label: its GraphQL type, e.g. FloatMetadataEntry


def materializations(url: str, asset: str, partitions: list[str]) -> list[Materialization]:
    """Each materialisation of those partitions of ``asset``, newest first."""
    found = graphql(url, _MATERIALIZATIONS, {"key": {"path": [asset]}, "partitions": partitions})[
        "assetOrError"
    ]
    if found["__typename"] != "Asset":
        raise GraphQLError(f"no materialised asset {asset!r}: {found['__typename']}")
    return [
        Materialization(
            partition=event["partition"],
            run_id=event["runId"],
            metadata={
                entry["label"]: next((entry[f] for f in _VALUE_FIELDS if f in entry), None)
                for entry in event["metadataEntries"]
            },
            kinds={entry["label"]: entry["__typename"] for entry in event["metadataEntries"]},
        )
        for event in found["assetMaterializations"]
    ]
