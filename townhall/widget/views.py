from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.cache import get_conditional_response
from django.views.decorators.http import require_safe

from townhall.widget.assets import (
    Script,
    account_script,
    anchoring_script,
    embed_script,
    support_script,
)

IMMUTABLE = "public, max-age=31536000, immutable"
# The unhashed URL is what publishers paste; a new release reaches their pages within minutes.
REVALIDATE = "public, max-age=300, stale-while-revalidate=86400"


@require_safe
def embed(request: HttpRequest, digest: str | None = None) -> HttpResponse:
    """The widget script. ``/embed.<hash>.js`` is cached for a year; ``/embed.js`` briefly.

    A hash from an older release is answered with the current script, briefly cached, so a
    page cached somewhere with an old URL still gets a working widget.
    """
    return _serve(request, embed_script(), digest)


@require_safe
def anchoring(request: HttpRequest, digest: str | None = None) -> HttpResponse:
    """The re-anchoring code, loaded by the widget only on pages with passages; cached alike."""
    return _serve(request, anchoring_script(), digest)


@require_safe
def support(request: HttpRequest, digest: str | None = None) -> HttpResponse:
    """The goal bar and Support button, loaded only on pages with a campaign; cached alike."""
    return _serve(request, support_script(), digest)


@require_safe
def account(request: HttpRequest, digest: str | None = None) -> HttpResponse:
    """Sign-in and the account menu, loaded when a reader signs in or is signed in; cached alike."""
    return _serve(request, account_script(), digest)


def _serve(request: HttpRequest, script: Script, digest: str | None) -> HttpResponse:
    etag = f'"{script.digest}"'
    response = get_conditional_response(request, etag=etag)
    if response is None:
        gzip_ok = "gzip" in request.headers.get("Accept-Encoding", "")
        response = HttpResponse(
            script.gzipped if gzip_ok else script.body,
            content_type="text/javascript; charset=utf-8",
        )
        if gzip_ok:
            response["Content-Encoding"] = "gzip"
    response["ETag"] = etag
    response["Cache-Control"] = IMMUTABLE if digest == script.digest else REVALIDATE
    response["Vary"] = "Accept-Encoding"
    # Publishers' pages may require cross-origin resources to opt in (COEP).
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response
