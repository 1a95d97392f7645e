"""The JSON API (django-ninja) and how every error becomes a JSON 4xx."""

from __future__ import annotations

import logging

import orjson
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.renderers import BaseRenderer

from townhall.core.errors import PayloadTooLarge, RateLimited, TownhallError
from townhall.discussions.api import router as discussions_router
from townhall.identity.api import router as identity_router
from townhall.live.api import router as live_router
from townhall.moderation.api import router as moderation_router
from townhall.notifications.api import router as notifications_router
from townhall.support.api import router as support_router

logger = logging.getLogger(__name__)


class OrjsonRenderer(BaseRenderer):
    media_type = "application/json"

    def render(self, request: HttpRequest, data, *, response_status: int) -> bytes:
        return orjson.dumps(data)


api = NinjaAPI(
    title="Townhall API",
    version="1",
    description=(
        "Reader engagement for news publishers: threads, comments, votes. "
        'Every error is a JSON body `{"error": {"code", "message", "field"?}}`.'
    ),
    renderer=OrjsonRenderer(),
    urls_namespace="api",
    # The interactive docs page loads Swagger UI from a CDN; the document itself is enough.
    docs_url=None,
)
api.add_router("/v1", discussions_router)
api.add_router("/v1", notifications_router)
api.add_router("/v1", moderation_router)
api.add_router("/v1", live_router)
api.add_router("/v1", support_router)
api.add_router("/v1", identity_router)


def _error_response(request: HttpRequest, error: TownhallError) -> HttpResponse:
    response = api.create_response(request, error.as_dict(), status=error.status)
    if isinstance(error, RateLimited):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


@api.exception_handler(TownhallError)
def on_townhall_error(request: HttpRequest, error: TownhallError) -> HttpResponse:
    return _error_response(request, error)


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, error: ValidationError) -> HttpResponse:
    fields = [
        {"loc": _public_location(item.get("loc", ())), "message": item.get("msg", "invalid")}
        for item in error.errors
    ]
    first = fields[0] if fields else {"loc": [], "message": "invalid"}
    where = ".".join(first["loc"][1:]) or "request"
    body = {
        "error": {
            "code": "invalid_request",
            "message": f"{where}: {first['message']}",
            "field": where,
            "fields": fields,
        }
    }
    return api.create_response(request, body, status=422)


def _public_location(loc) -> list[str]:
    """("body", "data", "site") → ["body", "site"]: the view's parameter name is not the API's."""
    parts = [str(part) for part in loc]
    if len(parts) > 2 and parts[0] == "body" and parts[1] == "data":
        del parts[1]
    return parts


@api.exception_handler(RequestDataTooBig)
def on_too_big(request: HttpRequest, error: RequestDataTooBig) -> HttpResponse:
    return _error_response(request, PayloadTooLarge("The request body is too large."))


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, error: AuthenticationError) -> HttpResponse:
    body = {"error": {"code": "unauthorized", "message": "Authentication failed."}}
    return api.create_response(request, body, status=401)


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, error: HttpError) -> HttpResponse:
    # (With DEBUG on, ninja appends the parser's own message.)
    if error.status_code == 400 and str(error).startswith("Cannot parse request body"):
        body = {
            "error": {"code": "malformed_body", "message": "The request body is not valid JSON."}
        }
    else:
        body = {"error": {"code": "http_error", "message": str(error)}}
    return api.create_response(request, body, status=error.status_code)
