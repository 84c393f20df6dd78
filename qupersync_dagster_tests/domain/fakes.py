"""In-memory repositories, so the sync rules can be exercised without any server.

They keep rows as COPY text fields -- exactly what travels between the real repositories -- and
decode every batch with an independent reference parser of PostgreSQL's COPY text format, so the
engine cannot pass these tests with an encoding the real target would read differently.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from qupersync_dagster.domain.entities import (
    Column,
    Extraction,
    ExtractMethod,
    LoadCounts,
    PartitionWindow,
    RowBatch,
    SourceFingerprint,
    SyncWatermark,
    TableRef,
    TableSchema,
    TableSpec,
    WindowRead,
)
from qupersync_dagster.domain.errors import ConfigError, DataError
from qupersync_dagster.domain.repositories import (
    Extract,
    PartitionLoad,
    SourceRepository,
    TargetRepository,
)
from qupersync_dagster.domain.services.copy_text import escape_bytes

Row = dict[str, str | None]

# PostgreSQL's COPY text escapes (documentation of COPY, "Text Format").
_SIMPLE_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_ESCAPE = re.compile(r"\\(?:([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|(.))", re.DOTALL)


def escape(value: str | None) -> str:
    """One text field as the engine escapes it (``copy_text.escape_bytes``), as text."""
    return escape_bytes(None if value is None else value.encode()).decode()


def encode_row(fields: list[str | None] | tuple[str | None, ...]) -> str:
    """One COPY text line (without its newline) of ``fields``."""
    return "\t".join(map(escape, fields))


def unescape_copy_field(text: str) -> str | None:
    """One COPY text field as PostgreSQL reads it: ``\\N`` is NULL, escapes are decoded."""
    if text == "\\N":
        return None

    def decode(match: re.Match[str]) -> str:
        octal, hexadecimal, other = match.groups()
        if octal is not None:
            return chr(int(octal, 8))
        if hexadecimal is not None:
            return chr(int(hexadecimal, 16))
        return _SIMPLE_ESCAPES.get(other, other)

    return _ESCAPE.sub(decode, text)


def parse_copy_text(data: bytes) -> list[tuple[str | None, ...]]:
    """Every row of a COPY text payload; a raw CR inside a line is refused as PostgreSQL does."""
    text = data.decode("utf-8")
    if not text:
        return []
    if not text.endswith("\n"):
        raise ValueError("COPY text must end every line with a newline")
    rows = []
    for line in text[:-1].split("\n"):
        if "\r" in line:
            raise ValueError("literal carriage return found in data")
        rows.append(tuple(unescape_copy_field(field) for field in line.split("\t")))
    return rows


def day_of(value: str | None) -> date:
    assert value is not None, "the partition column is never NULL in these tests"
    return date.fromisoformat(value[:10])


def in_window(row: Row, column: str, window: PartitionWindow) -> bool:
    return window.start <= day_of(row[column]) < window.end


@dataclass
class FakeSourceTable:
    schema: TableSchema
    rows: list[Row]


@dataclass
class FakeSource(SourceRepository):
    """A source whose rows are plain dicts of text values; records how it was read."""

    tables: dict[TableRef, FakeSourceTable] = field(default_factory=dict)
    batch_size: int = 2
    fail_after_batches: int | None = None
    failing_day: str | None = None  # a partition whose read fails at its first batch
    streams: list[tuple[str, str | None]] = field(default_factory=list)
    expected_rows: list[int | None] = field(default_factory=list)
    open_streams: int = 0
    staging_configured: bool = False  # UNLOADs are "staged" as two files of 100 bytes each
    choices: list[WindowRead] = field(default_factory=list)
    on_discard: Callable[[str], None] | None = None  # called with the partition key

    def describe(self, table: TableRef) -> TableSchema:
        if table not in self.tables:
            raise ConfigError(f"source table {table} does not exist")
        return self.tables[table].schema

    def fingerprints(
        self, spec: TableSpec, schema: TableSchema, start: date, end: date
    ) -> dict[date, SourceFingerprint]:
        window = PartitionWindow(start, end)
        by_day: dict[date, list[Row]] = {}
        for row in self.tables[spec.source].rows:
            if in_window(row, spec.partition_column, window):
                by_day.setdefault(day_of(row[spec.partition_column]), []).append(row)
        return {day: _fingerprint(spec, rows) for day, rows in by_day.items()}

    def staging(self) -> bool:
        return self.staging_configured

    def extract(self, read: WindowRead) -> Extract:
        self.choices.append(read)
        if read.choice.method is not ExtractMethod.UNLOAD:
            return super().extract(read)
        key, on_discard = read.window.key, self.on_discard
        return Extract(
            self.stream(read),
            Extraction(ExtractMethod.UNLOAD, read.choice.reason, files=2, bytes_staged=200),
            discard=lambda: on_discard(key) if on_discard else None,
        )

    def stream(self, read: WindowRead) -> Iterator[RowBatch]:
        spec, window, changed_since = read.spec, read.window, read.changed_since
        self.streams.append((window.key, changed_since))
        self.expected_rows.append(read.expected_rows)
        rows = [
            row
            for row in self.tables[spec.source].rows
            if in_window(row, spec.partition_column, window)
            and (changed_since is None or (row[spec.watermark_column] or "") > changed_since)
        ]
        self.open_streams += 1
        try:
            for number, start in enumerate(range(0, len(rows), self.batch_size)):
                failing = window.key == self.failing_day
                if failing or (
                    self.fail_after_batches is not None and number >= self.fail_after_batches
                ):
                    raise ConnectionError("the source went away mid-stream")
                chunk = rows[start : start + self.batch_size]
                lines = "".join(encode_row([r[c] for c in read.schema.names]) + "\n" for r in chunk)
                yield RowBatch(lines.encode("utf-8"), len(chunk))
        finally:
            self.open_streams -= 1


def _fingerprint(spec: TableSpec, rows: list[Row]) -> SourceFingerprint:
    measure = None
    if spec.measure_column:
        values = [Decimal(v) for r in rows if (v := r[spec.measure_column]) is not None]
        measure = str(sum(values)) if values else None
    watermark = None
    if spec.watermark_column:
        marks = [v for r in rows if (v := r[spec.watermark_column]) is not None]
        watermark = max(marks) if marks else None
    return SourceFingerprint(len(rows), measure, watermark)


@dataclass
class FakeTargetTable:
    schema: TableSchema
    rows: list[Row]


@dataclass
class FakeTarget(TargetRepository):
    """A target whose partition loads apply their changes only on commit, as a transaction."""

    tables: dict[TableRef, FakeTargetTable] = field(default_factory=dict)
    states: dict[tuple[str, str], SyncWatermark] = field(default_factory=dict)
    ddl: list[str] = field(default_factory=list)
    commits: list[str] = field(default_factory=list)
    fail_on_load: Exception | None = None
    before_lock: Callable[[TableSpec, PartitionWindow], None] | None = None
    # Commits of concurrent lanes take turns; each applies only its own window's rows.
    _commits: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def describe(self, spec: TableSpec) -> TableSchema | None:
        table = self.tables.get(spec.target)
        return table.schema if table else None

    def create_table(self, spec: TableSpec, schema: TableSchema) -> None:
        key = set(spec.primary_key)
        columns = tuple(
            replace(c, nullable=c.nullable and c.name not in key) for c in schema.columns
        )
        self.tables[spec.target] = FakeTargetTable(TableSchema(columns, spec.primary_key), [])
        self.ddl.append(f"create {spec.target}")

    def evolve_table(self, spec: TableSpec, added: list[Column], widened: list[Column]) -> None:
        table = self.tables[spec.target]
        wider = {c.name: c for c in widened}
        columns = tuple(wider.get(c.name, c) for c in table.schema.columns) + tuple(added)
        table.schema = TableSchema(columns, table.schema.primary_key)
        for row in table.rows:
            row.update({c.name: None for c in added})
        self.ddl.append(f"evolve {spec.target}: +{[c.name for c in added]}")

    def stored_states(self, table: str) -> dict[str, SyncWatermark]:
        return {key: state for (name, key), state in self.states.items() if name == table}

    def rows(self, spec: TableSpec) -> list[Row]:
        return self.tables[spec.target].rows

    @contextmanager
    def partition(
        self, spec: TableSpec, window: PartitionWindow, columns: tuple[str, ...]
    ) -> Iterator[PartitionLoad]:
        waited = False
        if self.before_lock is not None:
            hook, self.before_lock = self.before_lock, None
            hook(spec, window)
            waited = True
        table = self.tables[spec.target]
        load = FakePartitionLoad(self, spec, window, columns, [dict(r) for r in table.rows])
        load.waited_for_lock = waited
        yield load
        if load.committed_state is not None:
            with self._commits:
                outside = [r for r in table.rows if not load.in_window(r)]
                table.rows = outside + [r for r in load.rows if load.in_window(r)]
                self.states[(spec.name, window.key)] = load.committed_state
                self.commits.append(window.key)


class FakePartitionLoad(PartitionLoad):
    def __init__(
        self,
        target: FakeTarget,
        spec: TableSpec,
        window: PartitionWindow,
        columns: tuple[str, ...],
        rows: list[Row],
    ):
        self.target = target
        self.spec = spec
        self.window = window
        self.columns = columns
        self.rows = rows
        self.committed_state: SyncWatermark | None = None

    def stored_state(self) -> SyncWatermark | None:
        return self.target.states.get((self.spec.name, self.window.key))

    def _decode(self, batches: Iterable[RowBatch]) -> list[Row]:
        names = self.target.tables[self.spec.target].schema.names
        decoded = []
        for batch in batches:
            if self.target.fail_on_load is not None:
                raise self.target.fail_on_load
            for values in parse_copy_text(batch.data):
                row = dict.fromkeys(names)
                row.update(zip(self.columns, values, strict=True))
                decoded.append(row)
        return decoded

    def in_window(self, row: Row) -> bool:
        return in_window(row, self.spec.partition_column, self.window)

    def replace(self, batches: Iterable[RowBatch]) -> LoadCounts:
        kept = [r for r in self.rows if not self.in_window(r)]
        deleted = len(self.rows) - len(kept)
        new = self._decode(batches)
        self.rows = kept + new
        return LoadCounts(inserted=len(new), deleted=deleted)

    def _key(self, row: Row) -> tuple[str | None, ...]:
        return tuple(row[k] for k in self.spec.primary_key)

    def upsert(self, batches: Iterable[RowBatch], *, full_window: bool) -> LoadCounts:
        staged = self._decode(batches)
        for row in staged:
            for key in self.spec.primary_key:
                if row[key] is None:
                    raise DataError(self.spec.name, self.window.key, key, "NULL in a key")
        winners: dict[tuple, Row] = {}
        for row in staged:
            current = winners.get(self._key(row))
            if current is None or _rank(self.spec, row) > _rank(self.spec, current):
                winners[self._key(row)] = row
        existing = {self._key(r): i for i, r in enumerate(self.rows)}
        inserted = updated = 0
        for key, row in winners.items():
            if key not in existing:
                self.rows.append(row)
                inserted += 1
            elif self.rows[existing[key]] != row:
                self.rows[existing[key]] = row
                updated += 1
        deleted = 0
        if full_window:
            before = len(self.rows)
            self.rows = [r for r in self.rows if not self.in_window(r) or self._key(r) in winners]
            deleted = before - len(self.rows)
        return LoadCounts(inserted, updated, deleted, len(staged) - len(winners))

    def count_rows(self) -> int:
        return sum(1 for r in self.rows if self.in_window(r))

    def fingerprint(self) -> SourceFingerprint:
        fingerprint = _fingerprint(self.spec, [r for r in self.rows if self.in_window(r)])
        return SourceFingerprint(fingerprint.row_count, fingerprint.measure_sum)

    def commit(self, state: SyncWatermark) -> None:
        self.committed_state = state


def _rank(spec: TableSpec, row: Row) -> tuple[str, str]:
    watermark = row[spec.watermark_column] if spec.watermark_column else None
    return (watermark or "", "\t".join(v or "" for v in row.values()))
