"""BENCHMARKS.md is written by several benchmarks; each owns the region between its two markers.

The main benchmark rewrites the file and carries the other benchmarks' regions over unchanged, so
figures measured by ``python -m bench.click`` or ``python -m bench.unload`` survive a full run.
"""

from __future__ import annotations


def region(text: str, start: str, end: str) -> str:
    """The region of ``text`` from marker ``start`` to marker ``end``, or an empty string."""
    first, last = text.find(start), text.find(end)
    return text[first : last + len(end)] + "\n" if 0 <= first < last else ""


def carry_over(text: str, old: str, markers: list[tuple[str, str]]) -> str:
    """``text`` followed by each marked region of ``old`` (in ``markers`` order) that it had."""
    kept = (region(old, start, end) for start, end in markers)
    return text + "".join(f"\n{part}" for part in kept if part)
