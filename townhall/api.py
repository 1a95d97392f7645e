"""The JSON API (django-ninja) and how every error becomes a JSON 4xx."""

from __future__ import annotations

import functools
import logging

import orjson
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser
from ninja.renderers import BaseRenderer

from townhall.core.errors import (
    PayloadTooLarge,
    TownhallError,
    database_fault,
    log_database_fault,
)
from townhall.core.nul import nul_input
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


class OrjsonParser(Parser):
    """Reads JSON bodies with orjson, which refuses text that is not Unicode: ``json.loads``
    turns a lone surrogate escape (``"\\ud800"``) into a str that no database and no sanitizer
    can encode, and the write failed with a 500. Now it is the 400 of any malformed body."""

    def parse_body(self, request: HttpRequest):
        return orjson.loads(request.body)


class TownhallAPI(NinjaAPI):
    def get_openapi_schema(self, *args, **kwargs):
        """The document, with the errors any operation may answer besides its own: `413
        payload_too_large` where it takes a body (core.middleware refuses bodies over the limit
        before any view runs), `503 database_unavailable` everywhere and `507 storage_full`
        where it writes (the database out of reach or full, whatever the operation)."""
        schema = super().get_openapi_schema(*args, **kwargs)
        for operations in schema["paths"].values():
            for method, operation in operations.items():
                responses = operation["responses"]
                if "requestBody" in operation:
                    responses.setdefault(413, _PAYLOAD_TOO_LARGE)
                responses.setdefault(503, _DATABASE_UNAVAILABLE)
                if method.upper() in _WRITES:
                    responses.setdefault(507, _STORAGE_FULL)
        return schema


def _error(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
    }


_WRITES = {"POST", "PUT", "PATCH", "DELETE"}
_PAYLOAD_TOO_LARGE = _error(
    "Payload Too Large: the body is over the size limit (64 KiB by default)."
)
_DATABASE_UNAVAILABLE = _error(
    "Service Unavailable: the database does not answer (`database_unavailable`); nothing was "
    "written. Retry after the seconds in `Retry-After`."
)
_STORAGE_FULL = _error(
    "Insufficient Storage: the database's disk is full (`storage_full`); nothing was written. "
    "Retry after the seconds in `Retry-After`."
)

api = TownhallAPI(
    title="Townhall API",
    version="1",
    description=(
        "Reader engagement for news publishers: threads, comments, votes. "
        'Every error is a JSON body `{"error": {"code", "message", "field"?}}`.'
    ),
    renderer=OrjsonRenderer(),
    parser=OrjsonParser(),
    urls_namespace="api",
    # The interactive docs page loads Swagger UI from a CDN; the document itself is enough.
    docs_url=None,
)


def _refuse_nul_characters(run):
    """Before any view: a NUL character anywhere in the input is a 422 naming where."""

    @functools.wraps(run)
    def guarded(request: HttpRequest, **path_params):
        loc = nul_input(request, path_params)
        if loc is None:
            return run(request, **path_params)
        message = "text may not contain NUL (\\u0000) characters"
        where = ".".join(loc[1:]) or loc[0]
        body = {
            "error": {
                "code": "invalid_request",
                "message": f"{where}: {message}",
                "field": where,
                "fields": [{"loc": loc, "message": message}],
            }
        }
        return api.create_response(request, body, status=422)

    return guarded


api.add_decorator(_refuse_nul_characters, mode="view")
api.add_router("/v1", discussions_router)
api.add_router("/v1", notifications_router)
api.add_router("/v1", moderation_router)
api.add_router("/v1", live_router)
api.add_router("/v1", support_router)
api.add_router("/v1", identity_router)


def _error_response(request: HttpRequest, error: TownhallError) -> HttpResponse:
    response = api.create_response(request, error.as_dict(), status=error.status)
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    return response


@api.exception_handler(TownhallError)
def on_townhall_error(request: HttpRequest, error: TownhallError) -> HttpResponse:
    return _error_response(request, error)


@api.exception_handler(OperationalError)
@api.exception_handler(InterfaceError)
def on_database_error(request: HttpRequest, error: DatabaseError) -> HttpResponse:
    """The database out of reach or out of room is the operator's to fix, not a bug: the reader
    gets a clear 503 or 507 with a Retry-After (a write was rolled back whole), the log one line
    without a traceback. Anything else is a 500."""
    fault = database_fault(error)
    if fault is None:
        raise error
    log_database_fault(logger, fault, error)
    response = _error_response(request, fault)
    # That one line is the log's: django.request is not to log the response again.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


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
