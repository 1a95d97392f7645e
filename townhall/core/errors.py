"""Domain errors. Actions and queries raise these; the API turns each into a JSON error (4xx, or
a 5xx such as 507 when the server, not the request, is at fault).

Every error carries a stable machine-readable ``code`` (publishers script against it) and a
message written for the person reading it.
"""

from __future__ import annotations

import sqlite3

# PostgreSQL's SQLSTATE for "disk full" (class 53, insufficient resources).
_POSTGRES_DISK_FULL = "53100"


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

    def __init__(self, message: str = "", *, retry_after: int = 60):
        super().__init__(
            message or "The server's storage is full; nothing was saved. Try again later."
        )
        self.retry_after = retry_after


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
