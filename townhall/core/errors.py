"""Domain errors. Actions and queries raise these; the API turns each into a JSON error (4xx, or
a 5xx such as 503 or 507 when the server, not the request, is at fault).

Every error carries a stable machine-readable ``code`` (publishers script against it) and a
message written for the person reading it.
"""

from __future__ import annotations

import logging
import sqlite3

import psycopg
from django.db import InterfaceError

# PostgreSQL's SQLSTATE for "disk full" (class 53, insufficient resources).
_POSTGRES_DISK_FULL = "53100"
# PostgreSQL's SQLSTATEs for a server that is not there to answer, besides its class 08
# (connection exception): too many connections, an administrator's or a crash's shutdown, "the
# database system is starting up / shutting down". What libpq finds itself ("connection refused",
# "server closed the connection unexpectedly") has no SQLSTATE at all.
_POSTGRES_UNAVAILABLE = {"53300", "57P01", "57P02", "57P03"}


class TownhallError(Exception):
    status = 400
    code = "bad_request"
    retry_after: int | None = None  # seconds, sent as Retry-After when set

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.field = field

    def as_dict(self) -> dict:
        body: dict = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        return {"error": body}


class BadRequest(TownhallError):
    status = 400
    code = "bad_request"


class Unauthorized(TownhallError):
    status = 401
    code = "unauthorized"


class Forbidden(TownhallError):
    status = 403
    code = "forbidden"


class NotFound(TownhallError):
    status = 404
    code = "not_found"


class Conflict(TownhallError):
    status = 409
    code = "conflict"


class Unprocessable(TownhallError):
    status = 422
    code = "unprocessable"


class PayloadTooLarge(TownhallError):
    status = 413
    code = "payload_too_large"


class RateLimited(TownhallError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int = 60):
        super().__init__(message)
        self.retry_after = retry_after


class BadGateway(TownhallError):
    """A service Townhall depends on (a payment provider) failed or refused."""

    status = 502
    code = "bad_gateway"


class StorageFull(TownhallError):
    """The database can't grow (its disk is full): nothing was written, and a retry once the
    operator has freed space succeeds. 507 Insufficient Storage rather than a 500: the request
    was fine and the server is not broken, only out of room."""

    status = 507
    code = "storage_full"
    log_line = "The database is full, a write was refused"

    def __init__(self, message: str = "", *, retry_after: int = 60):
        super().__init__(
            message or "The server's storage is full; nothing was saved. Try again later."
        )
        self.retry_after = retry_after


class DatabaseUnavailable(TownhallError):
    """The database does not answer (PostgreSQL restarting, the network to it down): nothing was
    written, and the same request succeeds once it is back, with no restart of Townhall."""

    status = 503
    code = "database_unavailable"
    log_line = "The database does not answer, a request was refused"

    def __init__(self, message: str = "", *, retry_after: int = 5):
        super().__init__(
            message
            or "The database is not answering; nothing was changed. Try again in a few seconds."
        )
        self.retry_after = retry_after


def is_database_unavailable(error: BaseException) -> bool:
    """Whether a database error (Django's, or the driver's it wraps) says the database server
    is out of reach, rather than that this request or the data is wrong: the connection was
    refused or lost, the server is shutting down or starting up, or it has no connection left;
    or the connection was already known to be closed (an InterfaceError saying so). Only
    PostgreSQL's errors qualify: SQLite is a file in this process, with no server to go away."""
    for cause in (error, error.__cause__):
        if isinstance(cause, (InterfaceError, psycopg.InterfaceError)):
            if "closed" in str(cause):
                return True
        elif isinstance(cause, psycopg.OperationalError):
            sqlstate = cause.sqlstate
            if sqlstate is None or sqlstate.startswith("08") or sqlstate in _POSTGRES_UNAVAILABLE:
                return True
    return False


def is_storage_full(error: BaseException) -> bool:
    """Whether a database error (Django's, or the driver's it wraps) says the disk is full:
    SQLite's SQLITE_FULL ("database or disk is full", also raised when the file reaches
    ``max_page_count``) or PostgreSQL's ``disk_full``."""
    for cause in (error, error.__cause__):
        if cause is None:
            continue
        if getattr(cause, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
            return True
        if getattr(cause, "sqlstate", None) == _POSTGRES_DISK_FULL:
            return True
    return False


def database_fault(error: BaseException) -> StorageFull | DatabaseUnavailable | None:
    """The error to answer for a database error that is the server's fault, not the request's
    nor a bug (its database full or out of reach); None for any other, which stays a 500."""
    if is_storage_full(error):
        return StorageFull()
    if is_database_unavailable(error):
        return DatabaseUnavailable()
    return None


def log_database_fault(
    logger: logging.Logger, fault: StorageFull | DatabaseUnavailable, error: BaseException
) -> None:
    """One line for the operator, without a traceback (it is not a bug) and without anything
    of the request: what happened, and the first line of the driver's own words."""
    first_line = str(error).strip().partition("\n")[0]
    logger.error("%s: %s", fault.log_line, first_line)
