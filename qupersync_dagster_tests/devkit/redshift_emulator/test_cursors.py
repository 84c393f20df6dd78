"""Redshift's cursor rules: in a transaction, one at a time, 1,000 rows per FETCH on one node."""

from __future__ import annotations

import pytest
import redshift_connector

from qupersync_dagster.devkit.redshift_emulator import RedshiftWireEmulator
from qupersync_dagster_tests.devkit.redshift_emulator.driver import scalar, server_message

pytestmark = pytest.mark.integration

ROWS = "SELECT g, md5(CAST(g AS VARCHAR)) AS tag FROM generate_series(1, 3000) AS g"


def _declare(conn, name: str = "rows", query: str = ROWS) -> None:
    conn.cursor().execute(f"DECLARE {name} CURSOR FOR {query}")


def _fetch(conn, count: int | str, name: str = "rows") -> list:
    cursor = conn.cursor()
    cursor.execute(f"FETCH FORWARD {count} FROM {name}")
    return cursor.fetchall()


def _refused(call, *args) -> str:
    with pytest.raises(redshift_connector.ProgrammingError) as refused:
        call(*args)
    return server_message(refused.value)


def _aborted(conn) -> bool:
    """Whether the session's transaction was aborted by the last error, as a server error does."""
    message = _refused(scalar, conn, "SELECT 1")
    conn.rollback()
    return "current transaction is aborted" in message


def test_a_fetch_of_up_to_1000_rows_streams_the_cursor(redshift) -> None:
    conn = redshift()
    _declare(conn)
    assert [len(_fetch(conn, 1000)) for _ in range(4)] == [1000, 1000, 1000, 0]
    conn.rollback()


def test_a_fetch_over_1000_rows_fails_with_redshifts_message_and_aborts(redshift) -> None:
    conn = redshift()
    _declare(conn)
    assert len(_fetch(conn, 1000)) == 1000

    message = _refused(_fetch, conn, 2000)

    assert message.startswith(
        "Fetch size 2000 exceeds the limit of 1000 for a single node configuration."
    )
    assert _aborted(conn)
    assert scalar(conn, "SELECT 2") == 2


def test_fetch_all_fails_on_a_single_node(redshift) -> None:
    conn = redshift()
    _declare(conn)
    assert "FETCH ALL" in _refused(_fetch, conn, "ALL")
    assert _aborted(conn)


def test_a_multi_node_cluster_fetches_more_than_1000_rows(redshift, pg_server) -> None:
    with RedshiftWireEmulator(pg_server, single_node=False) as multi_node:
        conn = redshift(multi_node)
        _declare(conn)
        assert len(_fetch(conn, 2000)) == 2000
        assert len(_fetch(conn, "ALL")) == 1000
        conn.rollback()


def test_declare_outside_a_transaction_block_fails(redshift) -> None:
    conn = redshift()
    conn.autocommit = True
    assert "transaction block" in _refused(_declare, conn)


def test_a_second_open_cursor_fails_until_the_first_is_closed(redshift) -> None:
    conn = redshift()
    _declare(conn, "first")

    message = _refused(_declare, conn, "second")

    assert "one open cursor per session" in message and '"first"' in message
    assert _aborted(conn)
    _declare(conn, "first")
    conn.cursor().execute("CLOSE first")
    _declare(conn, "second")  # the very statement refused above, prepared once by the driver
    assert len(_fetch(conn, 10, "second")) == 10
    conn.commit()
    _declare(conn, "first")  # the transaction's end closed "second"
    conn.rollback()


@pytest.mark.parametrize(
    "declaration", ["DECLARE rows SCROLL CURSOR FOR", "DECLARE rows CURSOR WITH HOLD FOR"]
)
def test_cursor_options_redshift_lacks_are_refused(redshift, declaration: str) -> None:
    conn = redshift()
    message = _refused(conn.cursor().execute, f"{declaration} {ROWS}")
    assert "not supported by Amazon Redshift" in message
    conn.rollback()


def test_a_cursor_result_over_the_cap_fails_at_its_first_fetch(redshift, strict_emulator) -> None:
    strict_emulator.cursor_bytes_cap = 50_000  # 3,000 rows take about 170 kB
    conn = redshift()
    _declare(conn)  # declaring materialises nothing yet

    message = _refused(_fetch, conn, 10)

    assert "exceeds the maximum cursor result set size of 50000 bytes" in message
    assert _aborted(conn)
    _declare(conn, query=f"{ROWS} WHERE g <= 100")
    assert len(_fetch(conn, 1000)) == 100
    conn.rollback()
