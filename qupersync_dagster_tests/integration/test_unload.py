"""Days UNLOADed to S3 and streamed back, through the real driver, the emulator and a local S3.

The emulator runs each UNLOAD as Redshift does: every slice writes gzip text files into the
bucket of a local S3 (moto's server) with a verbose manifest. Source and target are then judged
by the databases themselves (an md5 over every column of every row), and the bucket by listing
it: nothing staged may outlive a successful day.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from qupersync_dagster.devkit import cur_data
from qupersync_dagster.domain.entities import (
    ExtractMethod,
    PartitionOutcome,
    SyncMode,
    TableRef,
    TableSpec,
)
from qupersync_dagster.domain.errors import ConfigError
from qupersync_dagster_tests.repositories import staging_settings, sync_service
from qupersync_dagster_tests.tables import day_digest

pytestmark = pytest.mark.integration

START = date(2026, 8, 1)
DAY = START + timedelta(days=1)
SPEC = TableSpec(
    name="cur_line_items",
    source=TableRef("billing", "cur_line_items"),
    target=TableRef("cost", "cur_line_items"),
    partition_column="line_item_usage_start_date",
    start_date=START,
    primary_key=cur_data.PRIMARY_KEY,
    measure_column="line_item_unblended_cost",
    extract=ExtractMethod.UNLOAD,
)
UPSERT = replace(SPEC, mode=SyncMode.UPSERT, watermark_column="updated_at")


@pytest.fixture
def cur_days(pg_server, source_db):
    """Three days of generated CUR (float costs, SUPER tags and products), 1,500 rows each."""
    with contextlib.closing(pg_server.connect(source_db)) as conn:
        cur_data.create_source_table(conn, "billing", "cur_line_items")
        cur_data.generate(conn, "billing", "cur_line_items", start=START, days=3, rows=4_500)


def _service(s3_emulator, pg_server, source_db, target_db, local_s3, **staging):
    settings = staging_settings(local_s3) | staging
    return sync_service(s3_emulator, pg_server, source_db, target_db, 1_000, **settings)


def _staged_keys(local_s3) -> list[str]:
    listed = local_s3.client().list_objects_v2(Bucket=local_s3.bucket)
    return [item["Key"] for item in listed.get("Contents", [])]


@pytest.mark.parametrize("spec", [SPEC, UPSERT], ids=["replace", "upsert"])
def test_an_unloaded_day_arrives_bit_exact_and_leaves_nothing_staged(
    spec, s3_emulator, pg_server, source_db, target_db, local_s3, cur_days
):
    with _service(s3_emulator, pg_server, source_db, target_db, local_s3) as service:
        results = service.sync(spec, START, START + timedelta(days=3))

    table = str(spec.target)
    for day in (START + timedelta(days=n) for n in range(3)):
        source = day_digest(pg_server, source_db, str(spec.source), day.isoformat())
        assert day_digest(pg_server, target_db, table, day.isoformat()) == source
        assert source[0] > 0
    assert [r.outcome for r in results] == [PartitionOutcome.SYNCED] * 3
    for result in results:
        assert result.extraction.method is ExtractMethod.UNLOAD
        assert result.extraction.reason == "extract: unload"
        assert result.extraction.files >= 1 and result.extraction.bytes_staged > 0
    assert _staged_keys(local_s3) == []


def test_a_restated_day_is_unloaded_again_and_the_mirror_follows_it(
    s3_emulator, pg_server, source_db, target_db, local_s3, cur_days
):
    with _service(s3_emulator, pg_server, source_db, target_db, local_s3) as service:
        service.sync(SPEC, START, START + timedelta(days=3))
        with contextlib.closing(pg_server.connect(source_db)) as conn:
            cur_data.restate_day(conn, "billing", "cur_line_items", DAY)
            conn.commit()
        results = service.sync(SPEC, START, START + timedelta(days=3))

    assert [r.outcome for r in results] == [
        PartitionOutcome.UNCHANGED,
        PartitionOutcome.SYNCED,
        PartitionOutcome.UNCHANGED,
    ]
    assert results[1].extraction.method is ExtractMethod.UNLOAD
    source = day_digest(pg_server, source_db, "billing.cur_line_items", DAY.isoformat())
    assert day_digest(pg_server, target_db, "cost.cur_line_items", DAY.isoformat()) == source
    assert _staged_keys(local_s3) == []


def test_auto_unloads_the_day_above_the_threshold_and_reads_the_smaller_one_by_cursor(
    s3_emulator, pg_server, source_db, target_db, local_s3
):
    with contextlib.closing(pg_server.connect(source_db)) as conn:
        cur_data.create_source_table(conn, "billing", "cur_line_items")
        cur_data.generate(conn, "billing", "cur_line_items", start=START, days=1, rows=300)
        cur_data.generate(conn, "billing", "cur_line_items", start=DAY, days=1, rows=3_000)
    auto = replace(SPEC, extract=ExtractMethod.AUTO, unload_above_mb=1)

    with _service(s3_emulator, pg_server, source_db, target_db, local_s3) as service:
        small, large = service.sync(auto, START, DAY + timedelta(days=1))

    assert small.extraction.method is ExtractMethod.CURSOR
    assert small.extraction.reason.startswith("auto: about 0.")
    assert small.extraction.reason.endswith("MB estimated, within 1 MB")
    assert large.extraction.method is ExtractMethod.UNLOAD
    assert large.extraction.reason.endswith("MB estimated, above 1 MB")
    for day in (START, DAY):
        source = day_digest(pg_server, source_db, "billing.cur_line_items", day.isoformat())
        assert day_digest(pg_server, target_db, "cost.cur_line_items", day.isoformat()) == source


# Values the text files must carry exactly: trailing blanks, empty vs NULL, every escape, SUPER
# short and long (a long one travels in a field of its own), floats at their edges.
ODD_SPEC = TableSpec(
    name="odd",
    source=TableRef("billing", "odd"),
    target=TableRef("cost", "odd"),
    partition_column="at",
    start_date=START,
    primary_key=("id",),
    extract=ExtractMethod.UNLOAD,
)
LONG_TAGS = {"k": "v\t\\" * 6_000, "note": "line\nbreak"}  # over 8 KB serialised
ODD_ROWS = [
    ("trailing   ", "ab ", {"a": 1}, "-0"),
    ("", "   ", {"tab": "\t", "nl": "\n", "bs": "\\"}, "4.9406564584124654e-324"),
    (None, None, None, None),
    ("tab\there\nnew\rline\\back\\N", "x", LONG_TAGS, "0.30000000000000004"),
    ("\\.", "é", [1, "two", None], "NaN"),
    ("emoji 🎉 é", "q", "just text", "-1.7976931348623157e308"),
]


ODD_COLUMNS = "note varchar(100), code char(3), tags json, cost double precision"


def _odd_table(server, database: str, columns: str, rows: list[tuple]) -> None:
    """``billing.odd``: an id, a minute of ``START`` per row, then ``columns`` with ``rows``."""
    at = datetime.combine(START, datetime.min.time())
    values = ", ".join(["%s"] * (2 + len(rows[0])))
    with contextlib.closing(server.connect(database)) as conn, conn.cursor() as cur:
        cur.execute("CREATE SCHEMA billing")
        cur.execute(
            f"CREATE TABLE billing.odd (id integer NOT NULL, at timestamp NOT NULL, {columns})"
        )
        cur.executemany(
            f"INSERT INTO billing.odd VALUES ({values})",
            [(n, at + timedelta(minutes=n), *row) for n, row in enumerate(rows)],
        )
        conn.commit()


def test_exact_values_survive_the_text_files(
    s3_emulator, pg_server, source_db, target_db, local_s3
):
    rows = [
        (note, code, None if tags is None else json.dumps(tags), cost)
        for note, code, tags, cost in ODD_ROWS
    ]
    _odd_table(pg_server, source_db, ODD_COLUMNS, rows)

    with _service(s3_emulator, pg_server, source_db, target_db, local_s3) as service:
        (result,) = service.sync(ODD_SPEC, START, START + timedelta(days=1))

    assert result.extraction.method is ExtractMethod.UNLOAD
    source = _read(pg_server, source_db, "billing.odd")
    assert _read(pg_server, target_db, "cost.odd") == source
    assert [row[1] for row in source] == [row[0] for row in ODD_ROWS]
    assert _staged_keys(local_s3) == []


def _read(server, database: str, table: str) -> list[tuple]:
    """Every row as text, floats as their exact bits (``float8send``), json canonical."""
    with contextlib.closing(server.connect(database)) as conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT id, note, code, tags::jsonb::text, encode(float8send(cost), 'hex')"
            f" FROM {table}"
            " ORDER BY id"
        )
        return cur.fetchall()


def test_a_table_with_a_raw_wide_string_is_read_by_cursor_and_says_why(
    s3_emulator, pg_server, source_db, target_db, local_s3
):
    _odd_table(pg_server, source_db, "note varchar(65535)", [("x\ty\n" * 5_000,)])

    with _service(s3_emulator, pg_server, source_db, target_db, local_s3) as service:
        (result,) = service.sync(ODD_SPEC, START, START + timedelta(days=1))

    assert result.extraction.method is ExtractMethod.CURSOR
    assert result.extraction.reason == (
        "extract: unload; read by cursor: column 'note' (varchar(65535)) may hold values too "
        "long to render on the cluster, which only a cursor carries raw"
    )
    with contextlib.closing(pg_server.connect(target_db)) as conn, conn.cursor() as cur:
        cur.execute("SELECT note FROM cost.odd")
        assert cur.fetchone()[0] == "x\ty\n" * 5_000
    assert _staged_keys(local_s3) == []


def test_a_bucket_s3_refuses_is_a_configuration_error_that_no_retry_repeats(
    s3_emulator, pg_server, source_db, target_db, local_s3, cur_days
):
    staging = {"unload_bucket": "qs-no-such-bucket"}
    refused = "S3 refused the UNLOAD to s3://qs-no-such-bucket/"
    with (
        _service(s3_emulator, pg_server, source_db, target_db, local_s3, **staging) as service,
        pytest.raises(ConfigError, match=refused) as failure,
    ):
        service.sync(SPEC, START, START + timedelta(days=1))
    assert not failure.value.retryable
    with contextlib.closing(pg_server.connect(target_db)) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT to_regclass('qupersync.sync_state') IS NULL OR NOT EXISTS"
            " (SELECT 1 FROM qupersync.sync_state)"
        )
        assert cur.fetchone()[0]
