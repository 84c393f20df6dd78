"""The emulator's UNLOAD fault switches fail, damage or delay an UNLOAD as they say."""

from __future__ import annotations

import threading
import time

import pytest
import redshift_connector

from qupersync_dagster_tests.devkit.redshift_emulator.driver import scalar, server_message
from qupersync_dagster_tests.devkit.redshift_emulator.unloading import (
    data_keys,
    manifest,
    objects,
    unload,
)

pytestmark = pytest.mark.integration

QUERY = "SELECT g FROM generate_series(1, 100) AS g"


def test_fail_unload_after_errors_once_files_are_written_and_writes_no_manifest(
    redshift, unload_emulator, local_s3, source_db
) -> None:
    unload_emulator.fail_unload_after(1)
    conn = redshift(unload_emulator)

    with pytest.raises(redshift_connector.ProgrammingError) as failed:
        conn.cursor().execute(unload(QUERY, local_s3.url("f/u_"), "GZIP MANIFEST"))

    assert "after 1 file(s) written" in server_message(failed.value)
    assert sorted(objects(local_s3, "f/")) == ["f/u_0000_part_00.gz"]
    conn.rollback()
    conn.cursor().execute(unload(QUERY, local_s3.url("f/v_"), "MANIFEST"))  # once: next is fine
    assert "f/v_manifest" in objects(local_s3, "f/")


def test_a_failed_unload_aborts_the_transaction_it_ran_in(
    redshift, unload_emulator, local_s3, source_db
) -> None:
    unload_emulator.fail_unload_after(0)
    conn = redshift(unload_emulator)  # not autocommit: the driver opened a transaction

    with pytest.raises(redshift_connector.ProgrammingError):
        conn.cursor().execute(unload(QUERY, local_s3.url("t/u_")))
    with pytest.raises(redshift_connector.ProgrammingError) as next_statement:
        scalar(conn, "SELECT 1")

    assert "current transaction is aborted" in server_message(next_statement.value)
    conn.rollback()
    assert scalar(conn, "SELECT 1") == 1


def test_a_failed_unload_outside_a_transaction_leaves_the_session_idle(
    redshift, unload_emulator, local_s3, source_db
) -> None:
    unload_emulator.fail_unload_after(0)
    conn = redshift(unload_emulator)
    conn.autocommit = True

    with pytest.raises(redshift_connector.ProgrammingError):
        conn.cursor().execute(unload(QUERY, local_s3.url("i/u_")))

    assert scalar(conn, "SELECT 2") == 2


def test_drop_unload_file_leaves_the_manifest_listing_a_missing_file(
    redshift, unload_emulator, local_s3, source_db
) -> None:
    unload_emulator.drop_unload_file()
    conn = redshift(unload_emulator)
    conn.cursor().execute(unload(QUERY, local_s3.url("d/u_"), "MANIFEST"))

    listed = [e["url"].removeprefix(local_s3.url()) for e in manifest(local_s3, "d/u_")["entries"]]
    present = data_keys(local_s3, "d/u_")
    assert len(listed) == 2
    assert [key for key in listed if key not in present] == ["d/u_0000_part_00"]


def test_resize_unload_file_leaves_a_file_shorter_than_its_manifest_size(
    redshift, unload_emulator, local_s3, source_db
) -> None:
    unload_emulator.resize_unload_file()
    conn = redshift(unload_emulator)
    conn.cursor().execute(unload(QUERY, local_s3.url("w/u_"), "GZIP MANIFEST"))

    sizes = objects(local_s3, "w/u_")
    wrong = [
        e
        for e in manifest(local_s3, "w/u_")["entries"]
        if e["meta"]["content_length"] != sizes[e["url"].removeprefix(local_s3.url())]
    ]
    assert len(wrong) == 1
    assert sizes[wrong[0]["url"].removeprefix(local_s3.url())] < wrong[0]["meta"]["content_length"]


def test_delay_unload_holds_the_manifest_and_the_reply_back(
    redshift, unload_emulator, local_s3, source_db
) -> None:
    unload_emulator.delay_unload(3.0)
    conn = redshift(unload_emulator)
    done = threading.Event()

    def run() -> None:
        conn.cursor().execute(unload(QUERY, local_s3.url("l/u_"), "MANIFEST"))
        done.set()

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 10
    while len(data_keys(local_s3, "l/u_")) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    written_before_reply = "l/u_manifest" in objects(local_s3, "l/")
    replied_early = done.is_set()
    worker.join(15)

    assert len(data_keys(local_s3, "l/u_")) == 2
    assert not written_before_reply
    assert not replied_early
    assert done.is_set()
    assert "l/u_manifest" in objects(local_s3, "l/")


def test_a_fault_with_once_off_strikes_every_unload_until_cleared(
    redshift, unload_emulator, local_s3, source_db
) -> None:
    unload_emulator.fail_unload_after(0, once=False)
    conn = redshift(unload_emulator)
    for attempt in range(2):
        with pytest.raises(redshift_connector.ProgrammingError):
            conn.cursor().execute(unload(QUERY, local_s3.url(f"e{attempt}/u_")))
        conn.rollback()

    unload_emulator.clear_faults()
    conn.cursor().execute(unload(QUERY, local_s3.url("e2/u_")))
    assert len(data_keys(local_s3, "e2/u_")) == 2
