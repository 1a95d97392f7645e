"""Shared test fixtures: sites made by the real actions, and an API client speaking JSON."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client, TestCase

from townhall.discussions import versions
from townhall.discussions.pages import local_pages
from townhall.moderation.pipeline import site_bans
from townhall.sites.actions import do_create_site
from townhall.sites.models import Site
from townhall.sites.queries import forget_allowed_origins

ORIGIN = "https://news.example"
ARTICLE = f"{ORIGIN}/2016/07/incirlik/"


class ApiClient:
    """A thin JSON client over Django's test client, going through the whole middleware stack."""

    def __init__(self, client: Client):
        self.client = client

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        origin: str | None = None,
        headers: dict[str, str] | None = None,
        raw: bytes | str | None = None,
        remote_addr: str = "127.0.0.1",
        **params: Any,
    ):
        extra = dict(headers or {})
        if token:
            extra["Authorization"] = f"Bearer {token}"
        if origin:
            extra["Origin"] = origin
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        if method == "GET":
            return self.client.get(path, params, headers=extra, REMOTE_ADDR=remote_addr)
        # Tests run inside a transaction that never commits; run what writes defer to commit
        # (version publication, later email and events) as a real commit would.
        with TestCase.captureOnCommitCallbacks(execute=True):
            return self.client.generic(
                method,
                path,
                data or "",
                content_type="application/json",
                headers=extra,
                REMOTE_ADDR=remote_addr,
            )

    def get(self, path: str, **params: Any):
        headers = params.pop("headers", None)
        remote_addr = params.pop("remote_addr", "127.0.0.1")
        return self.request("GET", path, headers=headers, remote_addr=remote_addr, **params)

    def post(self, path: str, body: Any = None, **kwargs: Any):
        return self.request("POST", path, body, **kwargs)

    def patch(self, path: str, body: Any = None, **kwargs: Any):
        return self.request("PATCH", path, body, **kwargs)

    def delete(self, path: str, **kwargs: Any):
        return self.request("DELETE", path, **kwargs)

    # The operations tests use most.
    def comment(self, site: Site, body: str | None = None, url: str = ARTICLE, **fields: Any):
        # Distinct by default: the moderation pipeline holds the same text posted twice.
        body = body if body is not None else f"A comment ({next(_comment_numbers)})."
        token = fields.pop("token", None)
        origin = fields.pop("origin", None)
        remote_addr = fields.pop("remote_addr", "127.0.0.1")
        payload = {"site": site.slug, "url": url, "body": body, **fields}
        return self.post(
            "/api/v1/comments", payload, token=token, origin=origin, remote_addr=remote_addr
        )

    def thread(self, site: Site, url: str = ARTICLE, **params: Any):
        return self.get("/api/v1/threads", site=site.slug, url=url, **params)


_comment_numbers = itertools.count(1)


def _forget_everything_cached() -> None:
    cache.clear()
    local_pages.clear()
    site_bans.clear()
    versions.store().clear()
    forget_allowed_origins()


@pytest.fixture(autouse=True)
def _clean_cache() -> Iterator[None]:
    _forget_everything_cached()
    yield
    _forget_everything_cached()


@pytest.fixture(autouse=True)
def _still_rate_limit_clock(monkeypatch) -> None:
    """Rate-limit windows roll over on the clock; a test must not straddle two of them."""
    import django_ratelimit.core

    frozen = django_ratelimit.core.time.time()
    monkeypatch.setattr(django_ratelimit.core, "time", SimpleNamespace(time=lambda: frozen))


@pytest.fixture
def api(client: Client) -> ApiClient:
    return ApiClient(client)


@pytest.fixture
def make_site(db):
    counter = iter(range(1, 10_000))

    def make(**options: Any) -> Site:
        options.setdefault("slug", f"site-{next(counter)}")
        options.setdefault("name", "News Example")
        options.setdefault("origins", [ORIGIN])
        # Tests post many comments from one client in seconds; tests/moderation turn it on.
        options.setdefault("new_commenter_burst", 0)
        return do_create_site(**options)

    return make


@pytest.fixture
def site(make_site) -> Site:
    return make_site(slug="news")
