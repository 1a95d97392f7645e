"""Which database errors are a full disk (``is_storage_full``), and how the API answers them."""

from __future__ import annotations

import sqlite3

import psycopg.errors
import pytest
from django.db import OperationalError

from townhall.core.errors import StorageFull, is_storage_full


def _sqlite_full() -> sqlite3.OperationalError:
    """A real SQLITE_FULL: the database may not grow past the pages it has."""
    db = sqlite3.connect(":memory:")
    try:
        db.execute("CREATE TABLE t (data BLOB)")
        (pages,) = db.execute("PRAGMA page_count").fetchone()
        db.execute(f"PRAGMA max_page_count = {pages}")
        db.execute("INSERT INTO t VALUES (zeroblob(100000))")
    except sqlite3.OperationalError as error:
        return error
    finally:
        db.close()
    raise AssertionError("SQLite stored a row past max_page_count")


def _as_django(error: Exception) -> OperationalError:
    """Wrapped as Django's DatabaseErrorWrapper does (``raise ... from error``)."""
    wrapped = OperationalError(*error.args)
    wrapped.__cause__ = error
    return wrapped


def test_sqlite_full_is_storage_full() -> None:
    error = _sqlite_full()
    assert "full" in str(error)
    assert is_storage_full(error)
    assert is_storage_full(_as_django(error))


def test_postgresql_disk_full_is_storage_full() -> None:
    assert is_storage_full(_as_django(psycopg.errors.DiskFull("could not extend file")))


@pytest.mark.parametrize(
    "error",
    [
        sqlite3.OperationalError("database is locked"),
        sqlite3.OperationalError("database or disk is full"),  # a message is not a code
        psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
        psycopg.errors.OperationalError("server closed the connection unexpectedly"),
        OperationalError("no such table: x"),
        ValueError("full"),
    ],
)
def test_other_errors_are_not(error: Exception) -> None:
    assert not is_storage_full(error)
    assert not is_storage_full(_as_django(error))


def test_storage_full_is_a_507_with_retry_after() -> None:
    error = StorageFull()
    assert error.status == 507
    assert error.as_dict()["error"]["code"] == "storage_full"
    assert error.retry_after and error.retry_after > 0


def test_the_api_answers_a_full_database_with_507(api, site, monkeypatch) -> None:
    def full(*args, **kwargs):
        raise _as_django(_sqlite_full())

    monkeypatch.setattr("townhall.discussions.actions.do_post_comment", full)

    response = api.comment(site, "Hello.")

    assert response.status_code == 507
    assert response.json()["error"]["code"] == "storage_full"
    assert response["Retry-After"] == "60"


def test_other_database_errors_stay_server_errors(api, site, monkeypatch) -> None:
    def locked(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr("townhall.discussions.actions.do_post_comment", locked)

    # The test client re-raises what a server would log as a 500 with its traceback.
    with pytest.raises(OperationalError, match="locked"):
        api.comment(site, "Hello.")
