"""The ASGI fast path answers thread reads exactly as the Django view does."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

import pytest
from asgiref.testing import ApplicationCommunicator

from tests.conftest import ARTICLE, ORIGIN
from townhall.discussions.hotpath import ThreadReadFastPath, etag_matches
from townhall.sites.queries import forget_allowed_origins

pytestmark = pytest.mark.django_db

IGNORED = {"content-length", "date", "server"}


class Fallthrough(Exception):
    pass


async def _never_called(scope, receive, send):
    raise Fallthrough(scope["path"])


def fast_get(query: dict, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
    """One GET through the fast path alone; raises Fallthrough if it would go to Django."""
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/api/v1/threads",
        "query_string": urlencode(query, doseq=True).encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
    }

    async def run():
        app = ThreadReadFastPath(_never_called)
        communicator = ApplicationCommunicator(app, scope)
        await communicator.send_input({"type": "http.request", "body": b""})
        start = await communicator.receive_output(1)
        body = await communicator.receive_output(1)
        return start, body

    start, body = asyncio.run(run())
    response_headers: dict[str, str] = {}
    for key, value in start["headers"]:
        response_headers[key.decode()] = value.decode()
    return start["status"], response_headers, body["body"]


def django_headers(response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items() if k.lower() not in IGNORED}


@pytest.mark.parametrize("origin", [None, ORIGIN, "https://elsewhere.example"])
def test_fast_path_answers_like_the_view(api, site, origin):
    api.comment(site, "Hello *there*")
    headers = {"Origin": origin} if origin else {}
    query = {"site": site.slug, "url": ARTICLE, "sort": "oldest", "limit": "10"}
    slow = api.get("/api/v1/threads", headers=headers, **query)
    status, fast_headers, body = fast_get(query, headers)
    assert status == 200
    assert body == slow.content
    assert {k: v for k, v in fast_headers.items() if k not in IGNORED} == django_headers(slow)
    assert fast_headers["content-length"] == str(len(slow.content))
    assert ("access-control-allow-origin" in fast_headers) == (origin == ORIGIN)


def test_fast_path_serves_the_inline_feedbacks_view_apart(api, site):
    passage = {
        "quote": {"exact": "a passage"},
        "position": {"start": 0, "end": 9},
    }
    api.comment(site, "Plain")
    api.comment(site, "On a passage", passage=passage)
    query = {"site": site.slug, "url": ARTICLE, "only": "passages"}
    slow = api.get("/api/v1/threads", **query)
    assert [c["html"] for c in slow.json()["comments"]] == ["<p>On a passage</p>"]
    _status, _headers, body = fast_get(query)
    assert body == slow.content
    api.thread(site)
    _status, _headers, whole = fast_get({"site": site.slug, "url": ARTICLE})
    assert b"Plain" in whole and whole != body


def test_fast_path_serves_each_number_of_replies_apart(api, site):
    root = api.comment(site, "Root").json()["comment"]
    for n in range(5):
        api.comment(site, f"Reply {n}", parent_id=root["id"], remote_addr=f"10.0.2.{n}")
    for shown in ("1", "5"):
        query = {"site": site.slug, "url": ARTICLE, "replies": shown}
        slow = api.get("/api/v1/threads", **query)
        _status, _headers, body = fast_get(query)
        assert body == slow.content
        assert len(slow.json()["comments"][0]["replies"]) == int(shown)


def test_fast_path_gives_304_like_the_view(api, site):
    api.comment(site, "Hello")
    slow = api.thread(site)
    etag = slow.headers["ETag"]
    slow_304 = api.thread(site, headers={"If-None-Match": etag})
    status, headers, body = fast_get({"site": site.slug, "url": ARTICLE}, {"If-None-Match": etag})
    assert (status, body) == (304, b"")
    assert slow_304.status_code == 304
    assert {k: v for k, v in headers.items() if k not in IGNORED} == django_headers(slow_304)


def test_fast_path_steps_aside_after_a_write(api, site):
    api.comment(site, "First")
    api.thread(site)
    fast_get({"site": site.slug, "url": ARTICLE})  # held
    api.comment(site, "Second")  # publishes a new version on commit
    with pytest.raises(Fallthrough):
        fast_get({"site": site.slug, "url": ARTICLE})
    assert api.thread(site).json()["thread"]["comment_count"] == 2
    _status, _headers, body = fast_get({"site": site.slug, "url": ARTICLE})
    assert b"Second" in body


@pytest.mark.parametrize(
    "query",
    [
        {"site": "news"},
        {"site": "news", "url": ARTICLE, "limit": "0"},
        {"site": "news", "url": ARTICLE, "limit": "abc"},
        {"site": "news", "url": ARTICLE, "sort": "hot"},
        {"site": "news", "url": ARTICLE, "extra": "1"},
        {"site": ["news", "other"], "url": ARTICLE},
        {"site": "news", "url": "notaurl"},
        {"site": "news", "url": ARTICLE, "only": "everything"},
        {"site": "news", "url": ARTICLE, "replies": "-1"},
        {"site": "news", "url": ARTICLE, "replies": "1001"},
    ],
)
def test_anything_unusual_goes_to_django(api, site, query):
    api.comment(site, "Hello")
    api.thread(site)
    with pytest.raises(Fallthrough):
        fast_get(query)


def test_origins_this_process_does_not_hold_go_to_django(api, site):
    # The fast path runs on the event loop: it must never read them from the cache or the
    # database itself (Django does, and refreshes this process's copy).
    api.comment(site, "Hello")
    api.thread(site, headers={"Origin": ORIGIN})
    fast_get({"site": site.slug, "url": ARTICLE}, {"Origin": ORIGIN})  # held
    forget_allowed_origins()
    with pytest.raises(Fallthrough):
        fast_get({"site": site.slug, "url": ARTICLE}, {"Origin": ORIGIN})
    fast_get({"site": site.slug, "url": ARTICLE})  # without an Origin, nothing to check


def test_unknown_version_goes_to_django(site):
    with pytest.raises(Fallthrough):
        fast_get({"site": site.slug, "url": ARTICLE})


@pytest.mark.parametrize(
    ("header", "matches"),
    [('"abc"', True), ('W/"abc"', True), ('"x", "abc"', True), ("*", True), ('"abcd"', False)],
)
def test_etag_comparison(header, matches):
    assert etag_matches(header, '"abc"') is matches
