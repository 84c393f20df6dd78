"""The click benchmark's figures as a Markdown section of BENCHMARKS.md, kept across reruns.

BENCHMARKS.md is written whole by ``python -m bench``; the click figures live in a marked region
that both writers keep, one block per label (``before``, ``after``...), so a rerun replaces its
own block, in place, and nothing else.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from bench import sections

START = "<!-- click-benchmark -->"
END = "<!-- /click-benchmark -->"
_HEADER = """## Click to done (the demo's Materialize, through the webserver's GraphQL API)

`python -m bench.click` starts the demo stack in a fresh folder, then launches one
`cur_line_items` partition at a time as the UI's "Launch 1 run" does (`launchPipelineExecution`
on the implicit asset job, the asset and its checks, the `dagster/partition` tag) and polls the
run. Dequeued: click to the first poll that finds the run out of the queue; queue: click to the
run worker's start (Dagster's `startTime`), so it includes starting that process; run:
`startTime` to `endTime`; total: click to `endTime`. Targets on 2 cores: unchanged day ≤ 6 s,
new 30,000-row day ≤ 8 s (median of the rounds).
"""
_CASES = {"unchanged": "(a) unchanged day", "new": "(b) new day of {rows:,} rows"}


_BLOCK = re.compile(r"<!-- click:(.*?) -->.*?<!-- /click:\1 -->\n", re.S)


def section(summary: dict, rows: int, label: str, load_before: str, load_after: str) -> str:
    lines = [
        f"<!-- click:{label} -->",
        f"### {label or 'Run'} — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Load average (1, 5, 15 min) at start {load_before}, at end {load_after}.",
        "",
        "| Case | Dequeued (s) | Queue (s) | Run (s) | Total (s), each round | Median total "
        "| Target | Result |",
        "|---|---|---|---|---|---:|---:|---|",
    ]
    for case, figures in summary.items():
        runs = figures["runs"]
        median, target = figures["median_total"], figures["target"]
        lines.append(
            f"| {_CASES[case].format(rows=rows)} "
            f"| {', '.join(f'{r.dequeued:.1f}' for r in runs)} "
            f"| {', '.join(f'{r.queue:.1f}' for r in runs)} "
            f"| {', '.join(f'{r.run:.1f}' for r in runs)} "
            f"| {', '.join(f'{r.ended:.1f}' for r in runs)} "
            f"| {median:.1f} | ≤ {target:.0f} | {'PASS' if median <= target else 'MISS'} |"
        )
    lines.append(f"<!-- /click:{label} -->")
    return "\n".join(lines) + "\n"


def region(text: str) -> str:
    """The marked click region of a BENCHMARKS.md text, or an empty string."""
    return sections.region(text, START, END)


def write(path: Path, label: str, block: str) -> None:
    """Put ``block`` into ``path``'s click region, replacing the block of the same label only."""
    text = path.read_text() if path.exists() else ""
    old = region(text)
    blocks = {match.group(1): match.group(0) for match in _BLOCK.finditer(old)}
    blocks[label] = block
    new = "\n".join([START, _HEADER, *blocks.values(), END]) + "\n"
    path.write_text(text.replace(old, new) if old else text.rstrip("\n") + "\n\n" + new)
