from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from townhall.core.errors import PayloadTooLarge


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
