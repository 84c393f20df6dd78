"""UNLOAD through the real driver writes each slice's files and the manifest to the local S3."""

from __future__ import annotations

import contextlib

import psycopg2
import pytest

from qupersync_dagster.devkit.redshift_emulator import RedshiftWireEmulator
from qupersync_dagster.domain.entities import Column, ColumnType, TableSchema, TypeKind
from qupersync_dagster.infrastructure.redshift import row_text
from qupersync_dagster.infrastructure.redshift.sql import PINNED_SETTINGS
from qupersync_dagster_tests.devkit.redshift_emulator.driver import scalar
from qupersync_dagster_tests.devkit.redshift_emulator.unloading import (
    content,
    data_keys,
    lines,
    manifest,
    objects,
    unload,
)

pytestmark = pytest.mark.integration

T = TypeKind
USAGE_SCHEMA = TableSchema(
    (
        Column("id", ColumnType(T.INTEGER), False),
        Column("note", ColumnType(T.VARCHAR, length=40), True),
        Column("pad", ColumnType(T.CHAR, length=6), True),
        Column("amount", ColumnType(T.DOUBLE), True),
        Column("doc", ColumnType(T.JSON), True),
    )
)
# Values the text rendering must carry exactly: escapes, empty vs NULL, blanks, float digits.
USAGE_ROWS = [
    (1, "back\\slash", "ab", 0.1, '{"a": "x\\\\y"}'),
    (2, "tab\there", "", 1e-310, '{"b": [1, 2.5]}'),
    (3, "new\nline\r", None, -1.7976931348623157e308, None),
    (4, "", "x  ", 5e-324, '"str|pipe"'),
    (5, None, None, None, '{"c": null}'),
    (6, "trailing  ", "  lead", 123456789.12345679, "[]"),
    (7, "pipe|and'quote", "a\\b", float("inf"), '{"d": "\\t"}'),
]
COLUMNS = "id, note, pad, amount, doc"


@pytest.fixture
def usage(pg_server, source_db) -> str:
    with contextlib.closing(pg_server.connect(source_db)) as conn, conn, conn.cursor() as cur:
        cur.execute(
            "CREATE TABLE usage (id integer NOT NULL, note varchar(40), pad char(6),"
            " amount double precision, doc json)"
        )
        cur.executemany("INSERT INTO usage VALUES (%s, %s, %s, %s, %s)", USAGE_ROWS)
    return source_db


def _pinned(conn) -> None:
    cursor = conn.cursor()
    for name, value in PINNED_SETTINGS:
        cursor.execute(f"SET {name} TO {value}")


def _copy_text(pg_server, database: str, query: str) -> list[bytes]:
    """PostgreSQL's own text COPY of ``query``, one line per row, under the pinned settings."""
    with contextlib.closing(pg_server.connect(database)) as conn, conn.cursor() as cur:
        _pinned(conn)
        out = _Sink()
        cur.copy_expert(f"COPY ({query}) TO STDOUT", out)
    return out.data.splitlines()


class _Sink:
    def __init__(self) -> None:
        self.data = b""

    def write(self, chunk: bytes | str) -> None:
        self.data += chunk.encode() if isinstance(chunk, str) else chunk


def test_the_engine_rendered_column_is_written_verbatim_line_by_line(
    redshift, unload_emulator, local_s3, usage, pg_server
) -> None:
    items, layout = row_text.select_list(USAGE_SCHEMA)
    assert layout.groups == 1
    rendered = f"SELECT {items[0]} FROM usage"
    conn = redshift(unload_emulator)
    _pinned(conn)

    conn.cursor().execute(unload(rendered, local_s3.url("usage/rows_"), "GZIP"))
    conn.commit()

    expected = _copy_text(pg_server, usage, f"SELECT {COLUMNS} FROM usage")
    assert sorted(lines(local_s3, "usage/rows_")) == sorted(expected)
    assert len(expected) == len(USAGE_ROWS)


@pytest.mark.parametrize(
    ("option", "suffix"), [("", ""), ("GZIP", ".gz"), ("BZIP2", ".bz2"), ("ZSTD", ".zst")]
)
def test_each_slice_writes_a_part_file_with_the_compression_suffix(
    redshift, unload_emulator, local_s3, usage, option, suffix
) -> None:
    conn = redshift(unload_emulator)
    slices = scalar(conn, "SELECT COUNT(*) FROM stv_slices")

    conn.cursor().execute(unload("SELECT id FROM usage", local_s3.url("p/u_"), option))

    keys = [f"p/u_{n:04d}_part_00{suffix}" for n in range(slices)]
    assert data_keys(local_s3, "p/u_") == keys
    ids = sorted(int(line) for line in lines(local_s3, "p/u_"))
    assert ids == [row[0] for row in USAGE_ROWS]


def test_a_multi_node_cluster_unloads_from_each_of_its_slices(
    redshift, pg_server, local_s3, usage
) -> None:
    with RedshiftWireEmulator(pg_server, single_node=False, s3=local_s3.endpoint) as emulator:
        conn = redshift(emulator)
        slices = scalar(conn, "SELECT COUNT(*) FROM stv_slices")
        conn.cursor().execute(unload("SELECT id FROM usage", local_s3.url("m/u_"), "MANIFEST"))

    assert slices == 4
    assert len(manifest(local_s3, "m/u_")["entries"]) == slices
    assert {key[len("m/u_") :][:4] for key in data_keys(local_s3, "m/u_")} == {
        "0000",
        "0001",
        "0002",
        "0003",
    }


def test_the_manifest_lists_every_file_with_its_size_and_rows(
    redshift, unload_emulator, local_s3, usage
) -> None:
    conn = redshift(unload_emulator)
    query = "SELECT id, note, amount FROM usage WHERE id <> 3"  # no line break in a value
    conn.cursor().execute(unload(query, local_s3.url("v/u_"), "GZIP MANIFEST VERBOSE"))

    written = manifest(local_s3, "v/u_")
    sizes = objects(local_s3, "v/u_")
    entries = written["entries"]
    assert [e["url"] for e in entries] == [local_s3.url(k) for k in data_keys(local_s3, "v/u_")]
    for entry in entries:
        key = entry["url"].removeprefix(local_s3.url())
        assert entry["meta"]["content_length"] == sizes[key]
        assert entry["meta"]["record_count"] == len(content(local_s3, key).splitlines())
    assert written["meta"] == {
        "content_length": sum(e["meta"]["content_length"] for e in entries),
        "record_count": len(USAGE_ROWS) - 1,
    }
    assert written["author"] == {"name": "Amazon Redshift", "version": "1.0.0"}
    assert written["schema"]["elements"] == [
        {"name": "id", "type": {"base": "integer"}},
        {"name": "note", "type": {"base": "character varying", "max_length": 40}},
        {"name": "amount", "type": {"base": "double precision"}},
    ]


def test_a_plain_manifest_lists_urls_and_sizes_only(
    redshift, unload_emulator, local_s3, usage
) -> None:
    conn = redshift(unload_emulator)
    conn.cursor().execute(unload("SELECT id FROM usage", local_s3.url("plain/u_"), "MANIFEST"))

    written = manifest(local_s3, "plain/u_")
    assert set(written) == {"entries"}
    assert all(set(entry["meta"]) == {"content_length"} for entry in written["entries"])


def test_parallel_off_writes_one_series_in_the_query_order(
    redshift, unload_emulator, local_s3, usage
) -> None:
    conn = redshift(unload_emulator)
    query = "SELECT id FROM usage ORDER BY id DESC"
    conn.cursor().execute(unload(query, local_s3.url("s/u_"), "PARALLEL OFF GZIP MANIFEST"))

    assert data_keys(local_s3, "s/u_") == ["s/u_000.gz"]
    assert lines(local_s3, "s/u_") == [str(row[0]).encode() for row in reversed(USAGE_ROWS)]
    assert len(manifest(local_s3, "s/u_")["entries"]) == 1


def test_the_default_text_is_pipe_delimited_unescaped_with_nulls_empty(
    redshift, unload_emulator, local_s3, usage
) -> None:
    conn = redshift(unload_emulator)
    query = "SELECT id, note, pad FROM usage WHERE id IN (4, 5, 7) ORDER BY id"
    conn.cursor().execute(unload(query, local_s3.url("t/u_"), "PARALLEL OFF"))

    assert content(local_s3, "t/u_000") == b"4||x     \n5||\n7|pipe|and'quote|a\\b   \n"


def test_null_as_delimiter_escape_and_addquotes_apply_as_redshift_writes_them(
    redshift, unload_emulator, local_s3, usage
) -> None:
    conn = redshift(unload_emulator)
    query = "SELECT id, note FROM usage WHERE id IN (1, 3, 5, 7) ORDER BY id"
    options = "PARALLEL OFF DELIMITER AS ',' NULL AS 'nil' ESCAPE"
    conn.cursor().execute(unload(query, local_s3.url("e/u_"), options))
    conn.cursor().execute(unload(query, local_s3.url("q/u_"), "PARALLEL OFF ADDQUOTES"))

    assert content(local_s3, "e/u_000") == (
        b"1,back\\\\slash\n3,new\\\nline\\\r\n5,nil\n7,pipe|and'quote\n"
    )
    assert content(local_s3, "q/u_000") == (
        b'"1"|"back\\slash"\n"3"|"new\nline\r"\n"5"|""\n"7"|"pipe|and\'quote"\n'
    )


def test_header_names_the_columns_and_counts_as_a_record(
    redshift, unload_emulator, local_s3, usage
) -> None:
    conn = redshift(unload_emulator)
    query = "SELECT id AS usage_id, note FROM usage WHERE id = 1"
    conn.cursor().execute(
        unload(query, local_s3.url("h/u_"), "HEADER PARALLEL OFF MANIFEST VERBOSE")
    )

    assert content(local_s3, "h/u_000") == b"usage_id|note\n1|back\\slash\n"
    assert manifest(local_s3, "h/u_")["entries"][0]["meta"]["record_count"] == 2


def test_an_empty_result_still_writes_each_slices_file(
    redshift, unload_emulator, local_s3, usage
) -> None:
    conn = redshift(unload_emulator)
    query = "SELECT id FROM usage WHERE id < 0"
    conn.cursor().execute(unload(query, local_s3.url("z/u_"), "GZIP MANIFEST VERBOSE"))

    assert lines(local_s3, "z/u_") == []
    assert [e["meta"]["record_count"] for e in manifest(local_s3, "z/u_")["entries"]] == [0, 0]


def test_quotes_doubled_in_the_query_and_a_nested_limit_are_accepted(
    redshift, unload_emulator, local_s3, usage
) -> None:
    conn = redshift(unload_emulator)
    query = (
        "SELECT id FROM usage WHERE note <> 'x''y' AND id IN "
        "(SELECT id FROM usage ORDER BY id LIMIT 2)"
    )
    conn.cursor().execute(unload(query, local_s3.url("n/u_"), "PARALLEL OFF"))

    assert lines(local_s3, "n/u_") == [b"1", b"2"]


def test_unload_reports_its_rows_in_an_info_notice_and_leaves_the_session_usable(
    redshift, unload_emulator, local_s3, usage
) -> None:
    conn = redshift(unload_emulator)
    cursor = conn.cursor()
    cursor.execute(unload("SELECT id FROM usage", local_s3.url("r/u_")))

    notice = conn.notices[-1][b"M"].decode()
    assert notice == f"UNLOAD completed, {len(USAGE_ROWS)} record(s) unloaded successfully."
    assert scalar(conn, "SELECT COUNT(*) FROM usage") == len(USAGE_ROWS)


def test_a_reused_prepared_unload_writes_again(redshift, unload_emulator, local_s3, usage) -> None:
    conn = redshift(unload_emulator)
    statement = unload("SELECT id FROM usage", local_s3.url("again/u_"), "ALLOWOVERWRITE")
    conn.cursor().execute(statement)
    local_s3.client().delete_object(Bucket=local_s3.bucket, Key="again/u_0000_part_00")

    conn.cursor().execute(statement)  # the driver binds its cached statement: no new Parse

    assert "again/u_0000_part_00" in objects(local_s3, "again/")
    assert scalar(conn, "SELECT 7") == 7


def test_a_simple_query_unloads_too(unload_emulator, pg_server, local_s3, usage) -> None:
    conn = psycopg2.connect(
        host=unload_emulator.host, port=unload_emulator.port, dbname=usage, user=pg_server.user
    )
    with contextlib.closing(conn), conn.cursor() as cur:
        cur.execute(unload("SELECT id FROM usage", local_s3.url("simple/u_"), "PARALLEL OFF"))
        assert cur.statusmessage == "UNLOAD"
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
    assert len(lines(local_s3, "simple/u_")) == len(USAGE_ROWS)


def test_existing_files_need_allowoverwrite_or_cleanpath(
    redshift, unload_emulator, local_s3, usage
) -> None:
    conn = redshift(unload_emulator)
    local_s3.client().put_object(Bucket=local_s3.bucket, Key="o/u_stale", Body=b"old")
    first = unload("SELECT id FROM usage WHERE id = 1", local_s3.url("o/u_"), "PARALLEL OFF")

    with pytest.raises(Exception, match="Specified unload destination on S3 is not empty"):
        conn.cursor().execute(first)
    conn.rollback()
    conn.cursor().execute(f"{first} ALLOWOVERWRITE")
    assert sorted(objects(local_s3, "o/")) == ["o/u_000", "o/u_stale"]
    conn.cursor().execute(f"{first} CLEANPATH")
    assert sorted(objects(local_s3, "o/")) == ["o/u_000"]


def test_a_bucket_in_another_region_needs_the_region_option(
    redshift, unload_emulator, local_s3_server, local_s3, usage
) -> None:
    bucket = local_s3_server.create_bucket(region="eu-west-1")
    conn = redshift(unload_emulator)
    statement = unload("SELECT id FROM usage", f"s3://{bucket}/u_")

    with pytest.raises(Exception, match="PermanentRedirect"):
        conn.cursor().execute(statement)
    conn.rollback()
    conn.cursor().execute(f"{statement} REGION AS 'eu-west-1'")


def test_large_results_stream_in_multipart_parts_and_split_at_maxfilesize(
    redshift, unload_emulator, local_s3, usage
) -> None:
    conn = redshift(unload_emulator)
    query = "SELECT g, md5(CAST(g AS VARCHAR)) || md5(CAST(-g AS VARCHAR)) AS tag" + (
        " FROM generate_series(1, 200000) AS g ORDER BY g"
    )
    conn.cursor().execute(unload(query, local_s3.url("big/one_"), "PARALLEL OFF MANIFEST"))
    conn.cursor().execute(
        unload(query, local_s3.url("big/split_"), "PARALLEL OFF MAXFILESIZE 5 MB MANIFEST")
    )

    one, split = data_keys(local_s3, "big/one_"), data_keys(local_s3, "big/split_")
    assert one == ["big/one_000"]
    assert objects(local_s3, "big/one_")["big/one_000"] > 8 * 1024 * 1024  # more than a part
    assert split == [f"big/split_{n:03d}" for n in range(len(split))]
    assert len(split) == 3
    assert lines(local_s3, "big/split_") == lines(local_s3, "big/one_")
    assert len(lines(local_s3, "big/one_")) == 200000
