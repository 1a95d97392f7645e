"""A database out of reach (or full) answers 503 (or 507) with a Retry-After, not a 500.

The database going away is simulated where every request first reads it (``access_site``'s
lean read) by the error the driver raises, so these run on both passes, fast. The real thing,
PostgreSQL restarted under a real server, is tests/hardening/test_faults_postgres.py.
"""

from __future__ import annotations

import logging
import sqlite3

import psycopg
import pytest
from django.db import InterfaceError, OperationalError

from tests.conftest import ARTICLE
from townhall.core.errors import is_database_unavailable, is_storage_full

pytestmark = pytest.mark.django_db


def _wrapped(cause: BaseException) -> OperationalError:
    """The error as Django raises it: its own class, the driver's error as the cause."""
    try:
        raise OperationalError(str(cause)) from cause
    except OperationalError as error:
        return error


REFUSED = psycopg.OperationalError(
    'connection failed: connection to server at "127.0.0.1", port 5432 failed: '
    "Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?"
)


@pytest.fixture
def database_gone(monkeypatch):
    """Every read of a site fails as it does while PostgreSQL is down."""
    monkeypatch.setattr(
        "townhall.sites.queries.select_one", lambda *a, **k: _raise(_wrapped(REFUSED))
    )


def _raise(error: BaseException):
    raise error


@pytest.mark.parametrize(
    "error",
    [
        _wrapped(REFUSED),
        _wrapped(psycopg.OperationalError("server closed the connection unexpectedly")),
        _wrapped(psycopg.errors.AdminShutdown("terminating connection due to administrator")),
        _wrapped(psycopg.errors.CannotConnectNow("the database system is starting up")),
        _wrapped(psycopg.errors.TooManyConnections("sorry, too many clients already")),
        InterfaceError("connection already closed"),
    ],
    ids=["refused", "closed", "admin-shutdown", "starting-up", "too-many", "already-closed"],
)
def test_errors_of_a_database_out_of_reach(error) -> None:
    assert is_database_unavailable(error)
    assert not is_storage_full(error)


@pytest.mark.parametrize(
    "error",
    [
        _wrapped(sqlite3.OperationalError("database is locked")),
        _wrapped(psycopg.errors.QueryCanceled("canceling statement due to statement timeout")),
        _wrapped(psycopg.errors.DiskFull("could not extend file")),
        InterfaceError("cursor used outside its block"),
    ],
    ids=["sqlite-locked", "statement-timeout", "disk-full", "other-interface-error"],
)
def test_other_database_errors_are_not_taken_for_an_outage(error) -> None:
    assert not is_database_unavailable(error)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_api_answers_503_with_retry_after(api, site, database_gone, method, caplog) -> None:
    with caplog.at_level(logging.INFO):
        if method == "GET":
            response = api.thread(site)
        else:
            response = api.comment(site, "Posted while the database is away.")

    assert response.status_code == 503, response.content
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "database_unavailable"
    assert int(response["Retry-After"]) > 0
    # One line for the operator, without a traceback or anything of the request.
    [record] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert record.name == "townhall.api"
    assert record.exc_info is None
    assert "\n" not in record.getMessage()
    assert "does not answer" in record.getMessage()


def test_pages_answer_503_with_retry_after(client, site, database_gone, caplog) -> None:
    with caplog.at_level(logging.INFO):
        response = client.get(f"/t/{site.slug}/", {"url": ARTICLE})

    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert int(response["Retry-After"]) > 0
    assert b"Try again" in response.content
    assert "Content-Security-Policy" in response  # the security headers still apply
    [record] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert record.name == "townhall.core.middleware"
    assert record.exc_info is None


def test_pages_answer_507_when_the_disk_is_full(client, site, monkeypatch) -> None:
    error = _wrapped(sqlite3.OperationalError("database or disk is full"))
    error.__cause__.sqlite_errorcode = sqlite3.SQLITE_FULL  # type: ignore[union-attr]
    monkeypatch.setattr("townhall.sites.queries.select_one", lambda *a, **k: _raise(error))

    response = client.get(f"/t/{site.slug}/", {"url": ARTICLE})

    assert response.status_code == 507
    assert int(response["Retry-After"]) > 0


def test_other_database_errors_stay_500(api, site, monkeypatch) -> None:
    error = _wrapped(psycopg.errors.QueryCanceled("canceling statement due to statement timeout"))
    monkeypatch.setattr("townhall.sites.queries.select_one", lambda *a, **k: _raise(error))

    with pytest.raises(OperationalError):  # the test client re-raises what became a 500
        api.thread(site)


def test_openapi_declares_503_everywhere_and_507_on_writes(api) -> None:
    schema = api.get("/api/openapi.json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "503" in responses, (method, path)
            writes = method in ("post", "put", "patch", "delete")
            assert ("507" in responses) == writes, (method, path)
            assert responses["503"]["content"]["application/json"]["schema"]
