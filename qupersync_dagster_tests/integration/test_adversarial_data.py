"""Hostile values either cross the sync exactly or stop it with a clear error and no write.

Rows travel as PostgreSQL COPY text, rendered on the source and escaped on the way, so every
character COPY treats specially (tab, newline, carriage return, backslash, the ``\\N`` NULL
marker, ``\\.``) and every value at the edge of its type must be proven to survive. Hypothesis
generates the rows; each example is synced through the real driver and the wire emulator and
both ends are then read back with psycopg2 and compared cell for cell.

The second half covers keys (NULL and duplicate keys in upsert mode) and a value too long for its
target column, where the promise is a clear error, or a counted de-duplication, and no write.
"""

from __future__ import annotations

import contextlib
import math
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qupersync_dagster.definitions import build_definitions
from qupersync_dagster.domain.entities import (
    PartitionWindow,
    RowBatch,
    SchemaPolicy,
    SyncMode,
    TableRef,
    TableSpec,
)
from qupersync_dagster.domain.errors import DataError, SchemaMismatchError
from qupersync_dagster.infrastructure.table_list import load_table_list
from qupersync_dagster_tests.repositories import sync_service
from qupersync_dagster_tests.tables import scalar

pytestmark = pytest.mark.integration

DAY = date(2026, 3, 29)  # a DST change in Europe: local midnight and UTC midnight part ways
NEXT = DAY + timedelta(days=2)

EDGE_COLUMNS = (
    ("id", "integer NOT NULL"),
    ("day", "timestamp NOT NULL"),
    ("short", "varchar(8)"),
    ("wide", "text"),
    ("very_wide", "varchar(40000)"),  # too wide to render on the source: escaped by the client
    ("fixed", "char(4)"),
    ("whole", "numeric(38,0)"),
    ("money", "numeric(38,10)"),
    ("fraction", "numeric(38,38)"),
    ("ratio", "double precision"),
    ("small", "real"),
    ("count", "bigint"),
    ("flag", "boolean"),
    ("at", "timestamp"),
    ("at_zone", "timestamptz"),
    ("on_day", "date"),
)
NAMES = tuple(name for name, _ in EDGE_COLUMNS)


def _spec(mode: SyncMode, **overrides) -> TableSpec:
    values = {
        "name": "edge_rows",
        "source": TableRef("lab", "edge_rows"),
        "target": TableRef("mirror", "edge_rows"),
        "partition_column": "day",
        "start_date": DAY,
        "mode": mode,
        "primary_key": ("id",),
        "measure_column": "money",
    }
    return TableSpec(**(values | overrides))


def _service(pg_server, redshift_emulator, source_db, target_db):
    return sync_service(redshift_emulator, pg_server, source_db, target_db, fetch_size=3)


def _failed_day_states(pg_server, target_db) -> int:
    """Sync states of ``DAY``, the day that fails; ``NEXT`` - 1 is read in a lane of its own."""
    return scalar(
        pg_server,
        target_db,
        f"SELECT COUNT(*) FROM qupersync.sync_state WHERE partition_key = '{DAY.isoformat()}'",
    )


def _create(conn, table: str, columns) -> None:
    with conn, conn.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {table.split('.')[0]}")
        cursor.execute(
            f"CREATE TABLE {table} ({', '.join(f'{name} {kind}' for name, kind in columns)})"
        )


# -- generated rows ---------------------------------------------------------------------------

COPY_SPECIALS = [
    "",
    "\\N",
    "\\",
    "\\\\N",
    "\\.",
    "\t",
    "\n",
    "\r",
    "\r\n",
    "a\tb\nc\rd\\e",
    "'",
    '"',
    "''; DROP TABLE x; --",
    " ",
    "e\u0301",  # a combining acute accent
    "\U0001f468\u200d\U0001f469\u200d\U0001f467",  # a family emoji, zero-width joiners
    "\U0001f1fa\U0001f1f3",  # a flag: two regional indicators
    "\ufeff",
    "\u2028",
    "\x7f\x01",
]
_CHARACTERS = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")


def _text(max_size: int) -> st.SearchStrategy[str]:
    specials = [s for s in COPY_SPECIALS if len(s) <= max_size]
    return st.one_of(
        st.sampled_from(specials),
        st.text(_CHARACTERS, max_size=max_size),
        st.text(_CHARACTERS, min_size=max_size, max_size=max_size),  # at the limit
    )


def _decimal(precision: int, scale: int) -> st.SearchStrategy[Decimal]:
    """numeric(precision, scale) values, built from digits so no decimal context can round them."""
    largest = 10**precision - 1
    return st.one_of(
        st.sampled_from([largest, -largest, 0, 1, -1]), st.integers(-largest, largest)
    ).map(lambda digits: Decimal(f"{digits}E-{scale}"))


_ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=45)), timezone(timedelta(hours=-12)),
     timezone(timedelta(hours=14)), ZoneInfo("Europe/Paris"), ZoneInfo("America/St_Johns")]
)  # fmt: skip
_BOUNDARIES = [time(0, 0), time(23, 59, 59, 999_999), time(0, 0, 0, 1), time(12, 0)]


def _nullable(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.none(), strategy)


_ROW = st.tuples(
    st.sampled_from([DAY, DAY + timedelta(days=1)]).flatmap(
        lambda day: st.sampled_from([datetime.combine(day, t) for t in _BOUNDARIES])
    ),
    _nullable(_text(8)),
    _nullable(_text(40)),
    _nullable(_text(60)),
    _nullable(_text(4)),
    _nullable(_decimal(38, 0)),
    _nullable(_decimal(38, 10)),
    _nullable(_decimal(38, 38)),
    _nullable(
        st.one_of(
            st.sampled_from([-0.0, 5e-324, 1.7976931348623157e308, math.inf, -math.inf, math.nan]),
            st.floats(),
        )
    ),
    _nullable(st.floats(width=32)),
    _nullable(st.integers(-(2**63), 2**63 - 1)),
    _nullable(st.booleans()),
    _nullable(
        st.one_of(
            st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
            st.sampled_from([datetime.combine(DAY, t) for t in _BOUNDARIES]),
        )
    ),
    _nullable(st.datetimes(min_value=datetime(1, 1, 2), timezones=_ZONES)),
    _nullable(st.dates()),
)


def _cell(value):
    """A value in a form where equal means identical: floats keep -0.0 and NaN apart."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


def _rows(server, database: str, table: str) -> list[tuple]:
    with contextlib.closing(server.connect(database)) as conn, conn.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(NAMES)} FROM {table} ORDER BY id")
        return [tuple(map(_cell, row)) for row in cursor.fetchall()]


@pytest.mark.parametrize("mode", [SyncMode.REPLACE, SyncMode.UPSERT])
def test_generated_rows_round_trip_cell_for_cell(
    mode, pg_server, redshift_emulator, source_db, target_db
):
    spec = _spec(mode)
    with (
        contextlib.closing(pg_server.connect(source_db)) as source,
        contextlib.closing(pg_server.connect(target_db)) as target,
    ):
        _create(source, "lab.edge_rows", EDGE_COLUMNS)
        with _service(pg_server, redshift_emulator, source_db, target_db) as service:
            service.prepare(spec)

            @settings(
                max_examples=40,
                deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture],
            )
            @given(rows=st.lists(_ROW, max_size=6))
            def round_trip(rows):
                with source, source.cursor() as cursor:
                    cursor.execute("TRUNCATE lab.edge_rows")
                    cursor.executemany(
                        f"INSERT INTO lab.edge_rows ({', '.join(NAMES)})"
                        f" VALUES ({', '.join(['%s'] * len(NAMES))})",
                        [(i, *row) for i, row in enumerate(rows)],
                    )
                with target, target.cursor() as cursor:
                    # Each example starts from an empty mirror, as if it were the first sync.
                    cursor.execute("TRUNCATE mirror.edge_rows, qupersync.sync_state")
                service.sync(spec, DAY, NEXT)
                expected = _rows(pg_server, source_db, "lab.edge_rows")
                assert len(expected) == len(rows)
                assert _rows(pg_server, target_db, "mirror.edge_rows") == expected

            round_trip()


# -- keys -------------------------------------------------------------------------------------

KEYED_COLUMNS = (
    ("id", "varchar(16) NOT NULL"),
    ("day", "timestamp NOT NULL"),
    ("note", "varchar(32)"),
    ("money", "numeric(18,4)"),
    ("updated_at", "timestamp"),
)
KEYED_NAMES = tuple(name for name, _ in KEYED_COLUMNS)
UPSERT = _spec(SyncMode.UPSERT, watermark_column="updated_at")


@pytest.fixture
def keyed_source(pg_server, source_db):
    with contextlib.closing(pg_server.connect(source_db)) as conn:
        _create(conn, "lab.edge_rows", KEYED_COLUMNS)
        yield conn


def _insert(conn, rows) -> None:
    with conn, conn.cursor() as cursor:
        cursor.executemany("INSERT INTO lab.edge_rows VALUES (%s, %s, %s, %s, %s)", rows)


def test_a_nullable_key_column_is_refused_before_anything_is_written(
    pg_server, redshift_emulator, source_db, target_db
):
    with contextlib.closing(pg_server.connect(source_db)) as conn:
        _create(conn, "lab.edge_rows", (("id", "varchar(16)"), *KEYED_COLUMNS[1:]))
    with (
        _service(pg_server, redshift_emulator, source_db, target_db) as service,
        pytest.raises(SchemaMismatchError) as failure,
    ):
        service.sync(UPSERT, DAY, NEXT)
    assert failure.value.table == "edge_rows"
    assert failure.value.differences == ["primary_key column 'id' is nullable in the source"]
    assert scalar(pg_server, target_db, "SELECT to_regclass('mirror.edge_rows')") is None


def test_null_keys_reaching_the_load_are_refused_naming_the_column(
    pg_server, redshift_emulator, source_db, target_db, keyed_source
):
    """The load's own check, behind pre-flight: a key NULL in the stage rolls back the day."""
    _insert(keyed_source, [("a", datetime.combine(DAY, time(1)), "kept", 1, None)])
    with _service(pg_server, redshift_emulator, source_db, target_db) as service:
        service.sync(UPSERT, DAY, NEXT)
        rows = b"\\N\t2026-03-29 02:00\tno key\t2\t\\N\nb\t2026-03-29 03:00\t\\N\t1\t\\N\n"
        with (
            pytest.raises(DataError) as failure,
            service.target.partition(UPSERT, PartitionWindow.day(DAY), KEYED_NAMES) as load,
        ):
            load.upsert([RowBatch(rows, 2)], full_window=True)
    assert (failure.value.table, failure.value.column) == ("edge_rows", "id")
    assert "NULL in a primary key column" in str(failure.value)
    assert scalar(pg_server, target_db, "SELECT string_agg(id, ',') FROM mirror.edge_rows") == "a"


DUPLICATES = [
    ("k1", datetime.combine(DAY, time(1)), "old", 1, datetime(2026, 4, 1)),
    ("k1", datetime.combine(DAY, time(1)), "newest", 2, datetime(2026, 4, 3)),
    ("k1", datetime.combine(DAY, time(1)), "middle", 3, datetime(2026, 4, 2)),
    ("k2", datetime.combine(DAY, time(2)), "tie a", 4, datetime(2026, 4, 1)),
    ("k2", datetime.combine(DAY, time(2)), "tie b", 5, datetime(2026, 4, 1)),
    ("k3", datetime.combine(DAY, time(3)), "single", 6, None),
]
DROPPED = "SELECT COUNT(*) - COUNT(DISTINCT id) FROM lab.edge_rows"
# Independently of QuperSync: per key the latest watermark wins, then the greatest row text.
WINNERS = """
    SELECT DISTINCT ON (id) id, note FROM lab.edge_rows
    ORDER BY id, updated_at DESC NULLS LAST, CAST(edge_rows AS text) DESC
"""


def _winners(server, database: str, table: str = "lab.edge_rows") -> list:
    query = WINNERS if table == "lab.edge_rows" else f"SELECT id, note FROM {table} ORDER BY id"
    with contextlib.closing(server.connect(database)) as conn, conn.cursor() as cursor:
        cursor.execute(query)
        return cursor.fetchall()


def test_duplicate_keys_are_de_duplicated_deterministically_and_counted(
    pg_server, redshift_emulator, source_db, target_db, keyed_source
):
    _insert(keyed_source, DUPLICATES)
    dropped = scalar(
        pg_server, source_db, "SELECT COUNT(*) - COUNT(DISTINCT id) FROM lab.edge_rows"
    )
    expected = _winners(pg_server, source_db)
    assert dropped == 3 and len(expected) == 3

    with _service(pg_server, redshift_emulator, source_db, target_db) as service:
        [result, _] = service.sync(UPSERT, DAY, NEXT)
        assert result.counts.duplicates_dropped == dropped
        assert _winners(pg_server, target_db, "mirror.edge_rows") == expected

        # The same rows stored in the opposite physical order pick the same winners.
        with keyed_source, keyed_source.cursor() as cursor:
            cursor.execute("DELETE FROM lab.edge_rows")
            cursor.executemany(
                "INSERT INTO lab.edge_rows VALUES (%s, %s, %s, %s, %s)", DUPLICATES[::-1]
            )
        service.sync(UPSERT, DAY, NEXT, force=True)
        assert _winners(pg_server, target_db, "mirror.edge_rows") == expected


def test_duplicate_keys_dropped_are_reported_in_the_run_metadata(
    pg_server, source_db, sync_env, keyed_source, tmp_path
):
    _insert(keyed_source, DUPLICATES)
    config = tmp_path / "tables.yaml"
    config.write_text(
        f"""
tables:
  - name: edge_rows
    source: lab.edge_rows
    target: mirror.edge_rows
    partition_column: day
    start_date: "{DAY.isoformat()}"
    mode: upsert
    primary_key: [id]
    watermark_column: updated_at
    measure_column: money
"""
    )
    asset = build_definitions(load_table_list(config)).resolve_assets_def("edge_rows")
    result = dg.materialize([asset], partition_key=DAY.isoformat())
    metadata = result.asset_materializations_for_node("edge_rows")[0].metadata
    assert metadata["duplicate_keys_dropped"].value == scalar(pg_server, source_db, DROPPED)


def test_duplicate_keys_in_replace_mode_stop_the_day_naming_the_key(
    pg_server, redshift_emulator, source_db, target_db, keyed_source
):
    """Replace mode does not merge: the target's primary key refuses the second copy."""
    _insert(keyed_source, DUPLICATES[3:])
    with (
        _service(pg_server, redshift_emulator, source_db, target_db) as service,
        pytest.raises(DataError) as failure,
    ):
        service.sync(_spec(SyncMode.REPLACE), DAY, NEXT)
    assert failure.value.table == "edge_rows" and failure.value.partition == DAY.isoformat()
    assert "duplicate key" in failure.value.value_class and "(id)=(k2)" in str(failure.value)
    assert scalar(pg_server, target_db, "SELECT COUNT(*) FROM mirror.edge_rows") == 0
    assert _failed_day_states(pg_server, target_db) == 0  # the other day may run in its lane


# -- a value too long for its target column ---------------------------------------------------


NOTE_TYPE = (
    "SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
    " WHERE attrelid = 'mirror.edge_rows'::regclass AND attname = 'note'"
)


def test_a_narrower_target_column_is_refused_under_fail_and_widened_under_evolve(
    pg_server, redshift_emulator, source_db, target_db, keyed_source
):
    _insert(keyed_source, DUPLICATES[5:])
    strict = _spec(SyncMode.REPLACE, schema_policy=SchemaPolicy.FAIL)
    with _service(pg_server, redshift_emulator, source_db, target_db) as service:
        service.sync(strict, DAY, NEXT)
        with contextlib.closing(pg_server.connect(target_db)) as conn, conn, conn.cursor() as cur:
            cur.execute("ALTER TABLE mirror.edge_rows ALTER COLUMN note TYPE varchar(6)")
        with pytest.raises(SchemaMismatchError) as failure:
            service.sync(strict, DAY, NEXT, force=True)
    assert failure.value.table == "edge_rows"
    assert failure.value.differences == [
        "column 'note': target type varchar(6) cannot hold source type varchar(32)"
    ]

    # Under the default policy, evolve, pre-flight widens the column back instead.
    with _service(pg_server, redshift_emulator, source_db, target_db) as service:
        service.sync(_spec(SyncMode.REPLACE), DAY, NEXT, force=True)
    assert scalar(pg_server, target_db, NOTE_TYPE) == "character varying(32)"


def test_a_value_too_long_for_a_column_narrowed_after_pre_flight_stops_the_day(
    pg_server, redshift_emulator, source_db, target_db, keyed_source
):
    """Pre-flight passes, then the column is narrowed (a concurrent ALTER) before the load."""
    _insert(keyed_source, [("k", datetime.combine(DAY, time(5)), "secret-ish value", 7, None)])
    spec = _spec(SyncMode.REPLACE)
    with _service(pg_server, redshift_emulator, source_db, target_db) as service:
        schema = service.prepare(spec)
        with contextlib.closing(pg_server.connect(target_db)) as conn, conn, conn.cursor() as cur:
            cur.execute("ALTER TABLE mirror.edge_rows ALTER COLUMN note TYPE varchar(5)")
        with pytest.raises(DataError) as failure:
            service.sync(spec, DAY, NEXT, schema=schema)
    error = failure.value
    assert (error.table, error.partition, error.column) == ("edge_rows", DAY.isoformat(), "note")
    assert error.value_class == "value too long for type character varying(5)"
    assert "secret-ish" not in str(error)
    assert scalar(pg_server, target_db, "SELECT COUNT(*) FROM mirror.edge_rows") == 0
    assert _failed_day_states(pg_server, target_db) == 0  # the other day may run in its lane
