from __future__ import annotations

import logging
from collections.abc import Callable
from html import escape

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse

from townhall.core import headers
from townhall.core.errors import PayloadTooLarge, database_fault, log_database_fault

logger = logging.getLogger(__name__)


class RequestSizeLimitMiddleware:
    """Refuses API requests whose declared body is over the limit before reading a byte.

    Bodies without a Content-Length are still capped by Django's DATA_UPLOAD_MAX_MEMORY_SIZE,
    which the API turns into the same 413.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            if limit is not None and length > limit:
                error = PayloadTooLarge(f"The request body is over the limit of {limit} bytes.")
                return JsonResponse(error.as_dict(), status=error.status)
        return self.get_response(request)


class JsonApiErrorsMiddleware:
    """Gives the API's error shape to the few 4xx that no exception handler sees.

    django-ninja answers a wrong method with a plain-text 405 built directly; under /api/ every
    error is JSON, so programs can read it the same way.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.path.startswith("/api/")
            and response.status_code == 405
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            allowed = response.get("Allow", "")
            hint = f"use {allowed}" if allowed else "see the API document"
            body = {
                "error": {
                    "code": "method_not_allowed",
                    "message": f"{request.method} is not allowed here; {hint}.",
                }
            }
            replacement = JsonResponse(body, status=405)
            if allowed:
                replacement["Allow"] = allowed
            return replacement
        return response


class DatabaseFaultsMiddleware:
    """Answers the pages outside the JSON API (moderation, notifications, the demo) as the API
    answers (``townhall.api``) when their database is out of reach or full: 503 or 507 with a
    Retry-After and a short page, and one line in the log, instead of Django's 500 with a
    traceback. The reader's next try, once the database is back, succeeds."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, error: Exception) -> HttpResponse | None:
        if not isinstance(error, DatabaseError):
            return None
        fault = database_fault(error)
        if fault is None:
            return None
        log_database_fault(logger, fault, error)
        if request.path.startswith("/api/"):
            response: HttpResponse = JsonResponse(fault.as_dict(), status=fault.status)
        else:
            page = _FAULT_PAGE.format(message=escape(fault.message))
            response = HttpResponse(page, status=fault.status, content_type="text/html")
        response["Retry-After"] = str(fault.retry_after)
        # That one line is the log's: django.request is not to log the response again.
        response._has_been_logged = True  # type: ignore[attr-defined]
        return response


_FAULT_PAGE = (
    '<!doctype html>\n<html lang="en">\n<head><meta charset="utf-8">'
    "<title>Try again shortly</title></head>\n"
    "<body><h1>Try again shortly</h1><p>{message}</p></body>\n</html>\n"
)


class SecurityHeadersMiddleware:
    """Townhall's security headers (``core.headers``) on every response Django answers.

    A view that sets its own ``Content-Security-Policy`` keeps it (the moderators' pages, the
    support pages with their checkout's origin in ``form-action``); the others get the policy of
    their kind: the API's minimal one for everything but HTML pages, the strict page policy
    for Townhall's own pages. Listed after ``SecurityMiddleware``, whose ``Referrer-Policy`` is
    only a default.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # Also on the responses that middleware further in answers itself (a CORS preflight,
        # a 413, the API's JSON 405), which Django's clickjacking middleware never sees.
        response.headers.setdefault("X-Frame-Options", settings.X_FRAME_OPTIONS)
        if request.path.startswith("/api/"):
            for name, value in headers.API_HEADERS.items():
                response.headers.setdefault(name, value)
        elif "Content-Security-Policy" not in response.headers:
            is_page = response.get("Content-Type", "").startswith("text/html")
            if is_page and not response.streaming:
                policy = headers.page_csp(response.content)
            else:
                policy = headers.MINIMAL_CSP
            response.headers["Content-Security-Policy"] = policy
        return response
