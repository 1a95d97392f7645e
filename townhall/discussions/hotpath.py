"""The fast path for thread reads, in front of Django.

Reading a thread is by far the most frequent request. When this process already holds the page
for the thread's current version, this ASGI layer answers ``GET /api/v1/threads`` itself, with
the same bytes, ETag and headers the Django view gives, without Django's request cycle or the
database. Anything it is not sure of (an unknown version, a page not in memory, an unusual query)
goes to the Django view, which builds the page, stores it and publishes the version.

``tests/discussions/test_hotpath.py`` checks both paths answer alike, header for header.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from django.conf import settings

from townhall.core.headers import API_HEADERS
from townhall.discussions import pages, versions
from townhall.discussions.urls import InvalidArticleUrl, canonical_url_key, split_article_url
from townhall.sites.queries import known_allowed_origins

THREADS_PATH = "/api/v1/threads"
# Browsers revalidate every time (cheap: a 304 from memory), so a reader who just posted never
# sees an older page. Shared caches may hold a page ten seconds; CDNs that read
# CDN-Cache-Control (RFC 9213) may also serve it stale while they revalidate. The
# stale-while-revalidate stays out of Cache-Control because browsers honour it too.
THREAD_CACHE_HEADERS = {
    "Cache-Control": "public, max-age=0, must-revalidate, s-maxage=10",
    "CDN-Cache-Control": "max-age=10, stale-while-revalidate=30",
}


def apply_thread_cache_headers(response) -> None:
    for name, value in THREAD_CACHE_HEADERS.items():
        response.headers[name] = value


_SLUG = re.compile(r"^[-a-zA-Z0-9_]{1,64}$")
_PARAMS = {"site", "url", "sort", "limit", "cursor", "only", "replies"}

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable, Callable], Awaitable[None]]


def common_headers() -> list[tuple[bytes, bytes]]:
    """What Django's security and clickjacking middleware and Townhall's security headers
    (``core.headers``) add to every API response."""
    headers = [(b"x-content-type-options", b"nosniff")]
    headers += [(name.lower().encode(), value.encode()) for name, value in API_HEADERS.items()]
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append(
            (b"cross-origin-opener-policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY.encode())
        )
    headers.append((b"x-frame-options", settings.X_FRAME_OPTIONS.encode()))
    return headers


def cors_headers(origin: str | None, allowed: frozenset[str]) -> list[tuple[bytes, bytes]]:
    """django-cors-headers' answer for a simple GET, for the origins our sites allow."""
    headers = [(b"vary", b"origin")]
    if origin and origin.lower() in allowed:
        headers += [
            (b"access-control-allow-origin", origin.encode()),
            (b"access-control-allow-credentials", b"true"),
            (b"access-control-expose-headers", ", ".join(settings.CORS_EXPOSE_HEADERS).encode()),
        ]
    return headers


def etag_matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 weak comparison, as If-None-Match uses."""
    if if_none_match.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in if_none_match.split(","))


def _one(params: dict[str, list[str]], name: str, default: str | None = None) -> str | None:
    values = params.get(name)
    if values is None:
        return default
    if len(values) != 1:
        raise ValueError(name)
    return values[0]


class ThreadReadFastPath:
    """ASGI middleware serving thread pages this process holds for the current version."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == THREADS_PATH:
            page = await self._page(scope["query_string"])
            # For a request with an Origin, the allowed origins as this process holds them:
            # reading them again needs the cache or the database, which is Django's to do (not
            # on the event loop).
            has_origin = any(name == b"origin" for name, _ in scope["headers"])
            allowed = known_allowed_origins() if has_origin else frozenset()
            if page is not None and allowed is not None:
                await self._respond(scope, send, page, allowed)
                return
        await self.app(scope, receive, send)

    async def _page(self, query_string: bytes) -> pages.Page | None:
        if not query_string.isascii():
            return None
        try:
            params = parse_qs(
                query_string.decode("ascii"), keep_blank_values=True, strict_parsing=True
            )
            if not set(params) <= _PARAMS:
                return None
            site, url = _one(params, "site"), _one(params, "url")
            sort = _one(params, "sort", "newest")
            limit_text = _one(params, "limit", str(pages.DEFAULT_LIMIT))
            replies_text = _one(params, "replies", str(pages.REPLIES_PER_ROOT))
            cursor = _one(params, "cursor")
            only = _one(params, "only")
        except ValueError:
            return None
        if not site or not url or not _SLUG.match(site) or sort not in pages.SORTS:
            return None
        if only not in (None, "passages"):
            return None
        if (
            not limit_text
            or not limit_text.isdigit()
            or not 1 <= int(limit_text) <= pages.MAX_LIMIT
        ):
            return None
        if (
            not replies_text
            or not replies_text.isdigit()
            or not 0 <= int(replies_text) <= pages.MAX_REPLIES_PER_ROOT
        ):
            return None
        try:
            _origin, canonical = split_article_url(url)
        except InvalidArticleUrl:
            return None
        vkey = versions.version_key(site, canonical_url_key(canonical))
        version = await versions.store().aget(vkey)
        if version is None:
            return None
        key = pages.page_key(vkey, version, sort, int(limit_text), cursor, only, int(replies_text))
        return pages.local_pages.get(key)

    async def _respond(
        self, scope: Scope, send: Callable, page: pages.Page, allowed: frozenset[str]
    ) -> None:
        request_headers = dict(scope["headers"])
        origin = request_headers.get(b"origin")
        headers = [
            (b"etag", page.etag.encode()),
            *(
                (name.lower().encode(), value.encode())
                for name, value in THREAD_CACHE_HEADERS.items()
            ),
            *cors_headers(origin.decode("latin-1") if origin else None, allowed),
            *common_headers(),
        ]
        if_none_match = request_headers.get(b"if-none-match")
        if if_none_match is not None and etag_matches(if_none_match.decode("latin-1"), page.etag):
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        headers += [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(page.body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": page.body})
