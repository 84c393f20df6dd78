"""What the doctor found, as people read it: one line per finding, each problem with its fix.

Only problems make the command fail; warnings and notes explain what a sync will do here (e.g.
the single-node FETCH limit) without stopping anyone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum


class Level(StrEnum):
    OK = "ok"
    INFO = "info"
    WARNING = "warning"
    PROBLEM = "PROBLEM"


@dataclass(frozen=True)
class Finding:
    level: Level
    subject: str  # "cluster", "target", or "table <name>"
    message: str
    remedy: str = ""  # what to do; every problem has one


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)

    def add(self, level: Level, subject: str, message: str, remedy: str = "") -> None:
        self.findings.append(Finding(level, subject, message, remedy))

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.level is Level.PROBLEM]

    def lines(self) -> Iterator[str]:
        subject = None
        for finding in self.findings:
            if finding.subject != subject:
                subject = finding.subject
                yield f"{subject}:"
            yield f"  [{finding.level}] {finding.message}"
            if finding.remedy:
                yield f"      fix: {finding.remedy}"
        count = len(self.problems)
        yield (
            f"{count} problem(s) found; nothing was written."
            if count
            else "No problems found; nothing was written."
        )
