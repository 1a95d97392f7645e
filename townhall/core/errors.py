"""Domain errors. Actions and queries raise these; the API turns each into a JSON 4xx.

Every error carries a stable machine-readable ``code`` (publishers script against it) and a
message written for the person reading it.
"""

from __future__ import annotations


class TownhallError(Exception):
    status = 400
    code = "bad_request"

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
