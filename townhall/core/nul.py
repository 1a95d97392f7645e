"""NUL characters in API input: never meaningful, and PostgreSQL refuses them in any text (a
query with one fails, whatever the column), so the API answers them with a 422 first."""

from __future__ import annotations

from typing import Any

import orjson
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest

NUL = "\x00"
# How a NUL reaches a JSON body (a raw NUL byte makes the body malformed JSON).
_ESCAPED_NUL = b"\\u0000"


def nul_input(request: HttpRequest, path_params: dict[str, Any]) -> list[str] | None:
    """Where the request carries a NUL character, as a validation error's ``loc``
    (``["query", "site"]``, ``["body", "passage", "id"]``); None when it carries none.

    Cheap for the requests that matter: a body is parsed only when it holds an escaped NUL.
    """
    for name, value in path_params.items():
        if isinstance(value, str) and NUL in value:
            return ["path", name]
    for name, values in request.GET.lists():
        if NUL in name or any(NUL in value for value in values):
            return ["query", name.replace(NUL, "")]
    try:
        body = request.body if request.method in ("POST", "PUT", "PATCH", "DELETE") else b""
    except RequestDataTooBig:
        return None  # the API answers 413 as it reads the body
    if _ESCAPED_NUL in body:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None  # the API answers malformed JSON on its own
        where = _nul_in(parsed)
        if where is not None:
            return ["body", *where]
    return None


def _nul_in(value: Any) -> list[str] | None:
    """The path to the first string (or key) holding a NUL, or None."""
    if isinstance(value, str):
        return [] if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if NUL in key:
                return [key.replace(NUL, "")]
            inner = _nul_in(item)
            if inner is not None:
                return [key, *inner]
    elif isinstance(value, list):
        for index, item in enumerate(value):
            inner = _nul_in(item)
            if inner is not None:
                return [str(index), *inner]
    return None
