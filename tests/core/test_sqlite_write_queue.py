"""The SQLite backend's write queue (townhall/core/sqlite/base.py), on a database file."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from django.db import connections

from townhall.core.sqlite.base import DatabaseWrapper, WriteQueue

pytestmark = pytest.mark.django_db  # lets these tests open connections of their own


def file_database(path: Path) -> DatabaseWrapper:
    """A connection like the default one, to a database file."""
    settings = dict(connections["default"].settings_dict)
    settings["NAME"] = str(path)
    settings["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 5,
    }
    return DatabaseWrapper(settings, alias="write-queue-test")


def begin(database: DatabaseWrapper) -> None:
    """What ``transaction.atomic`` does to start a transaction on SQLite."""
    database.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)


def end(database: DatabaseWrapper, *, commit: bool = True) -> None:
    if commit:
        database.commit()
    else:
        database.rollback()
    database.set_autocommit(True)


def test_a_writer_waits_for_the_one_in_a_transaction_and_goes_on_when_it_ends(tmp_path):
    path = tmp_path / "queue.sqlite3"
    began = threading.Event()
    second_began = threading.Event()

    def second_writer() -> None:
        database = file_database(path)
        begin(database)
        second_began.set()
        with database.cursor() as cursor:
            cursor.execute("INSERT INTO t VALUES (2)")
        end(database)
        database.close()

    first = file_database(path)
    with first.cursor() as cursor:
        cursor.execute("CREATE TABLE t (n INTEGER)")
    begin(first)
    began.set()
    other = threading.Thread(target=second_writer)
    other.start()
    assert not second_began.wait(0.3)  # queued behind the open transaction
    with first.cursor() as cursor:
        cursor.execute("INSERT INTO t VALUES (1)")
    end(first, commit=False)  # a rollback ends the turn as a commit does
    assert second_began.wait(2)
    other.join(5)
    with first.cursor() as cursor:
        cursor.execute("SELECT n FROM t")
        assert cursor.fetchall() == [(2,)]
    first.close()


def test_concurrent_transactions_all_commit(tmp_path):
    path = tmp_path / "counter.sqlite3"
    setup = file_database(path)
    with setup.cursor() as cursor:
        cursor.execute("CREATE TABLE counter (n INTEGER)")
        cursor.execute("INSERT INTO counter VALUES (0)")

    def add(times: int) -> None:
        database = file_database(path)
        for _ in range(times):
            begin(database)
            with database.cursor() as cursor:
                cursor.execute("SELECT n FROM counter")
                (n,) = cursor.fetchone()
                cursor.execute("UPDATE counter SET n = %s", [n + 1])
            end(database)
        database.close()

    writers = [threading.Thread(target=add, args=(50,)) for _ in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(30)
    with setup.cursor() as cursor:
        cursor.execute("SELECT n FROM counter")
        assert cursor.fetchone() == (200,)
    setup.close()


def test_queues_of_two_processes_exclude_each_other(tmp_path):
    # Two queues on one file stand for two processes: each opens the lock file itself.
    path = str(tmp_path / "db.sqlite3.writelock")
    one, two = WriteQueue(path, timeout=5), WriteQueue(path, timeout=5)
    assert one.acquire()
    acquired_at: list[float] = []

    def wait_for_turn() -> None:
        assert two.acquire()
        acquired_at.append(time.monotonic())
        two.release()

    waiting = threading.Thread(target=wait_for_turn)
    waiting.start()
    time.sleep(0.2)
    assert not acquired_at
    released_at = time.monotonic()
    one.release()
    waiting.join(2)
    # Within a few milliseconds, not the up-to-100 ms sleeps of SQLite's busy handler.
    assert acquired_at and acquired_at[0] - released_at < 0.05


def test_a_writer_stops_waiting_for_another_process_after_its_timeout(tmp_path):
    # A transaction left open elsewhere (a shell) must not stall writers for good: past the
    # timeout the writer goes on to SQLite, which fails with "database is locked" as usual.
    path = str(tmp_path / "db.sqlite3.writelock")
    holder, waiter = WriteQueue(path, timeout=5), WriteQueue(path, timeout=0.3)
    assert holder.acquire()
    began = time.monotonic()
    assert waiter.acquire() is False
    assert 0.3 <= time.monotonic() - began < 1.0
    holder.release()
    # It holds nothing after giving up, and gets its turn once the lock is free.
    assert waiter.acquire()
    waiter.release()
