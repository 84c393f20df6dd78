"""The Redshift source through the real ``redshift_connector`` driver and the wire emulator.

The source renders rows into COPY text on the server and escapes too-long values on the client; the
only trustworthy reference for that text is PostgreSQL's own ``COPY ... TO STDOUT``, so every
batch is compared byte for byte with what psycopg2 reads from the same rows -- except the float
fields, whose text depends on the session's ``extra_float_digits`` (the source pins it; the
reference session does not): those are compared by their IEEE bits.
"""

from __future__ import annotations

import contextlib
import io
import socket
import struct
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import redshift_connector
from psycopg2.extras import Json

from qupersync_dagster.devkit.cur_data import install_redshift_shims
from qupersync_dagster.domain.entities import (
    Column,
    ColumnType,
    PartitionWindow,
    SourceFingerprint,
    SyncMode,
    TableRef,
    TableSchema,
    TableSpec,
    TypeKind,
    WindowRead,
)
from qupersync_dagster.domain.errors import ConfigError, SourceUnavailableError
from qupersync_dagster.infrastructure.redshift import row_text
from qupersync_dagster.infrastructure.redshift.connector import RedshiftSettings, connect
from qupersync_dagster.infrastructure.redshift.repository import (
    RedshiftSourceRepository,
    SourceTableMissingError,
)
from qupersync_dagster_tests.repositories import redshift_settings, redshift_source

pytestmark = pytest.mark.integration

T = TypeKind
FETCH_SIZE = 3
DAY = date(2026, 8, 3)
WINDOW = PartitionWindow(DAY, DAY + timedelta(days=2))
WINDOW_SQL = "usage_start >= %s AND usage_start < %s"
REF = TableRef("billing", "samples")
SPEC = TableSpec(
    name="samples",
    source=REF,
    target=TableRef("cost", "samples"),
    partition_column="usage_start",
    start_date=date(2026, 8, 1),
    mode=SyncMode.UPSERT,
    primary_key=("id",),
    watermark_column="seen",
    measure_column="amount",
)
CREATE = """
CREATE SCHEMA billing;
CREATE TABLE billing.samples (
    id integer NOT NULL,
    usage_start timestamp NOT NULL,
    small smallint,
    big bigint,
    amount numeric(38,10),
    free numeric,
    ratio real,
    precise double precision,
    flag boolean,
    code char(3),
    label varchar(50),
    wide varchar(65535),
    body text,
    day date,
    seen timestamptz,
    tags json
)
"""
EXPECTED_SCHEMA = TableSchema(
    (
        Column("id", ColumnType(T.INTEGER), nullable=False),
        Column("usage_start", ColumnType(T.TIMESTAMP), nullable=False),
        Column("small", ColumnType(T.SMALLINT)),
        Column("big", ColumnType(T.BIGINT)),
        Column("amount", ColumnType(T.NUMERIC, precision=38, scale=10)),
        Column("free", ColumnType(T.NUMERIC)),
        Column("ratio", ColumnType(T.REAL)),
        Column("precise", ColumnType(T.DOUBLE)),
        Column("flag", ColumnType(T.BOOLEAN)),
        Column("code", ColumnType(T.CHAR, length=3)),
        Column("label", ColumnType(T.VARCHAR, length=50)),
        Column("wide", ColumnType(T.VARCHAR, length=65535)),
        Column("body", ColumnType(T.TEXT)),
        Column("day", ColumnType(T.DATE)),
        Column("seen", ColumnType(T.TIMESTAMPTZ)),
        Column("tags", ColumnType(T.JSON)),
    )
)
AWKWARD_TEXT = [
    "",
    None,
    "tab\there",
    "line\nbreak",
    "carriage\rreturn\r\n",
    "back\\slash\\",
    "\\N",
    "東京 € 🚀 naïve",
    "quote \" and ' apostrophe",
]


def _rows() -> list[tuple]:
    utc = UTC
    rows = []
    for i in range(13):
        text = AWKWARD_TEXT[i % len(AWKWARD_TEXT)]
        day = DAY + timedelta(days=i % 3)  # the third day lies outside the window
        rows.append(
            (
                i,
                datetime.combine(day, datetime.min.time()) + timedelta(hours=i, microseconds=i),
                [None, -32768, 32767][i % 3],
                [None, -9223372036854775808, 9223372036854775807, 0][i % 4],
                [
                    None,
                    Decimal("-0.0000000001"),
                    Decimal("9999999999999999999999999999.9999999999"),
                    Decimal("-1234.5000000000"),
                    Decimal("0"),
                ][i % 5],
                [None, Decimal("1.10"), Decimal("-123456789012345678901234567890.123456789")][
                    i % 3
                ],
                [None, 0.1, -3.4028235e38, 1e-7][i % 4],
                [None, 0.1, 1.7976931348623157e308, -2.5e-300][i % 4],
                [None, True, False][i % 3],
                [None, "ab", "abc", ""][i % 4],
                text,
                (text or "") * 40 if i % 2 else text,
                text,
                [None, date(1999, 12, 31)][i % 2],
                [
                    None,
                    datetime(2026, 8, 4, 23, 59, 59, 999999, tzinfo=utc),
                    datetime(2026, 8, 1, 5, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
                ][i % 3],
                None if i % 4 == 0 else Json({"team": text, "n": i, "nested": [1, {"a": None}]}),
            )
        )
    return rows


@pytest.fixture
def source_table(pg_server, source_db):
    """The sample table in the source database, and a psycopg2 cursor on it in UTC."""
    with contextlib.closing(pg_server.connect(source_db)) as conn:
        install_redshift_shims(conn)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SET timezone TO 'UTC'")
            cur.execute(CREATE)
            cur.executemany(
                "INSERT INTO billing.samples VALUES (" + ", ".join(["%s"] * 16) + ")", _rows()
            )
            yield cur


@pytest.fixture
def source(redshift_emulator, pg_server, source_db) -> Iterator[RedshiftSourceRepository]:
    with redshift_source(redshift_emulator, pg_server, source_db, FETCH_SIZE) as repository:
        yield repository


def _copy_out(cur, where: str, params: tuple = ()) -> list[bytes]:
    """The window's rows as PostgreSQL's own COPY text, one line per row."""
    query = cur.mogrify(
        f"COPY (SELECT * FROM billing.samples WHERE {where}) TO STDOUT",
        params,
    ).decode()
    buffer = io.BytesIO()
    cur.copy_expert(query, buffer)
    return buffer.getvalue().splitlines(keepends=True)


# Field position -> struct format of the float columns (ratio real, precise double precision).
FLOAT_FIELDS = {6: "<f", 7: "<d"}


def _float_bits(field: bytes, layout: str) -> bytes:
    if field == b"\\N":
        return field
    text = field.decode()
    value = float(text)
    return struct.pack(layout, value).hex().encode()


def _floats_as_bits(lines: list[bytes]) -> list[bytes]:
    """COPY lines with each float field replaced by the hex of its IEEE bits, sorted."""
    normalised = []
    for line in lines:
        fields = line.split(b"\t")
        for position, layout in FLOAT_FIELDS.items():
            fields[position] = _float_bits(fields[position], layout)
        normalised.append(b"\t".join(fields))
    return sorted(normalised)


def _streamed_lines(batches) -> list[bytes]:
    lines = []
    for batch in batches:
        assert 0 < batch.rows <= FETCH_SIZE
        batch_lines = batch.data.splitlines(keepends=True)
        assert len(batch_lines) == batch.rows
        lines += batch_lines
    return lines


def test_describe_maps_every_catalogue_type(source_table, source):
    assert source.describe(REF) == EXPECTED_SCHEMA


@pytest.mark.parametrize("unsupported", ["interval", "time", "bytea"])
def test_describe_refuses_an_unsupported_type_naming_table_column_and_type(
    source_table, source, unsupported
):
    source_table.execute(f"ALTER TABLE billing.samples ADD COLUMN odd {unsupported}")
    with pytest.raises(ConfigError) as raised:
        source.describe(REF)
    message = str(raised.value)
    assert "billing.samples" in message and "'odd'" in message
    source_table.execute(
        "SELECT data_type FROM information_schema.columns WHERE column_name = 'odd'"
    )
    assert repr(source_table.fetchone()[0]) in message


def test_describe_of_a_missing_table_is_a_retryable_source_error(source_table, source):
    with pytest.raises(SourceTableMissingError) as raised:
        source.describe(TableRef("billing", "absent"))
    assert raised.value.retryable


def test_fingerprints_equal_the_same_aggregates_computed_on_the_source(source_table, source):
    source_table.execute(
        "SELECT usage_start::date, count(*), sum(amount)::text, max(seen)::text"
        " FROM billing.samples WHERE usage_start >= %s AND usage_start < %s GROUP BY 1",
        (WINDOW.start, WINDOW.end),
    )
    expected = {day: SourceFingerprint(n, total, mark) for day, n, total, mark in source_table}

    found = source.fingerprints(SPEC, EXPECTED_SCHEMA, WINDOW.start, WINDOW.end)

    assert found == expected
    assert len(found) == 2


def test_stream_yields_bounded_batches_byte_equal_to_postgres_copy(source_table, source):
    expected = _copy_out(source_table, WINDOW_SQL, (WINDOW.start, WINDOW.end))

    lines = _streamed_lines(source.stream(WindowRead(SPEC, EXPECTED_SCHEMA, WINDOW)))

    assert len(lines) == len(expected) > FETCH_SIZE
    assert _floats_as_bits(lines) == _floats_as_bits(expected)


def test_values_too_long_to_render_on_the_source_are_escaped_by_the_client(source_table, source):
    # Longer than the source renders in a row's group: those travel raw and the client escapes
    # them into their field. JSON may also hold raw tabs and line breaks between its tokens.
    long_text = "tab\t newline\n return\r backslash\\ \\N 東京 🚀 " * 400
    assert len(long_text.encode()) > row_text.SPILL_BYTES
    spaced_json = '{"a":\n\t1,\r\n "b": "x\\ty"}'
    rows = [
        (100, long_text, long_text, Json({"text": long_text, "n": [1, None]}).dumps(None)),
        (101, "short", None, '{"pad": "' + "y" * 9000 + '",\n\t"z": [\r\n1]}'),
        (102, long_text[:50], long_text, spaced_json),
        (103, None, "", None),
    ]
    source_table.executemany(
        "INSERT INTO billing.samples (id, usage_start, wide, body, tags)"
        " VALUES (%s, %s, %s, %s, %s::json)",
        [(i, datetime.combine(DAY, datetime.min.time()), w, b, t) for i, w, b, t in rows],
    )
    expected = _copy_out(source_table, WINDOW_SQL, (WINDOW.start, WINDOW.end))

    lines = _streamed_lines(source.stream(WindowRead(SPEC, EXPECTED_SCHEMA, WINDOW)))

    assert _floats_as_bits(lines) == _floats_as_bits(expected)


def test_an_incremental_stream_reads_only_rows_after_the_watermark(source_table, source):
    since = "2026-08-01 00:00:00+00"
    expected = _copy_out(
        source_table, f"{WINDOW_SQL} AND seen > %s", (WINDOW.start, WINDOW.end, since)
    )

    lines = _streamed_lines(
        source.stream(WindowRead(SPEC, EXPECTED_SCHEMA, WINDOW, changed_since=since))
    )

    assert 0 < len(lines) < len(_copy_out(source_table, "true"))
    assert _floats_as_bits(lines) == _floats_as_bits(expected)


def test_a_table_dropped_before_the_stream_is_a_retryable_missing_table(source_table, source):
    source_table.execute("DROP TABLE billing.samples")
    with pytest.raises(SourceTableMissingError) as raised:
        list(source.stream(WindowRead(SPEC, EXPECTED_SCHEMA, WINDOW)))
    assert isinstance(raised.value, SourceUnavailableError) and raised.value.retryable
    with pytest.raises(SourceTableMissingError):
        source.fingerprints(SPEC, EXPECTED_SCHEMA, WINDOW.start, WINDOW.end)


def test_a_column_dropped_since_describe_is_not_reported_as_a_missing_table(source_table, source):
    source_table.execute("ALTER TABLE billing.samples DROP COLUMN label")
    with pytest.raises(redshift_connector.ProgrammingError, match="label"):
        list(source.stream(WindowRead(SPEC, EXPECTED_SCHEMA, WINDOW)))
    assert source.describe(REF).get("label") is None


def test_an_abandoned_stream_leaves_the_connection_ready_for_the_next(source_table, source):
    stream = source.stream(WindowRead(SPEC, EXPECTED_SCHEMA, WINDOW))
    next(stream)
    stream.close()

    lines = _streamed_lines(source.stream(WindowRead(SPEC, EXPECTED_SCHEMA, WINDOW)))

    expected = _copy_out(source_table, WINDOW_SQL, (WINDOW.start, WINDOW.end))
    assert _floats_as_bits(lines) == _floats_as_bits(expected)


def test_an_unreachable_cluster_is_a_retryable_source_error(source_table):
    settings = RedshiftSettings(
        host="127.0.0.1", port=9, database="absent", user="nobody", ssl=False, timeout_s=5
    )
    repository = RedshiftSourceRepository(lambda: connect(settings), FETCH_SIZE)
    with pytest.raises(SourceUnavailableError) as raised:
        repository.describe(REF)
    assert raised.value.retryable


def test_a_connection_sends_without_nagles_delay(redshift_emulator, pg_server, source_db):
    """A statement longer than the driver's 8 KB buffer leaves in two writes; the second must
    not wait for the cluster's delayed acknowledgement of the first."""
    conn = connect(redshift_settings(redshift_emulator, pg_server, source_db))
    try:
        assert conn._usock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        conn.close()
