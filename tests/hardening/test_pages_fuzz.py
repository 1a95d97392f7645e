"""Fuzzing of the pages outside the JSON API: the moderation pages, the notification links, the
support pages, the thread page and the demo. Schemathesis covers the API from its OpenAPI
document; these pages have no such document, so the routes come from Django's URL resolver and
the fields from the forms and views that read them.

For every route, with path parameters that exist, do not exist or no column can hold, and with
query strings and form bodies drawn from the fields the views read (hostile values included:
NUL, lone surrogates, huge numbers, very long text, repeated keys), a GET and a POST by a
logged-in moderator and by a stranger must never answer 5xx.

Derandomized and without an example database, so CI runs the same examples each time.
"""

from __future__ import annotations

import re

import pytest
from django import forms
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ARTICLE
from townhall.demo.seed import CAMPAIGN_SLUG, load_demo
from townhall.discussions.actions import do_post_comment
from townhall.migration import forms as migration_forms
from townhall.moderation import actions as moderation_actions
from townhall.moderation import forms as moderation_forms
from townhall.support import forms as support_forms

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# Pages with their own fuzzing (the API) or that are Django's own (the admin).
SKIPPED_PREFIXES = ("api/", "^api/", "admin/")


def _routes() -> list[str]:
    """Every page route as a Django path pattern, e.g. ``moderate/<slug:slug>/log/``."""
    found: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                found.append(prefix + str(pattern.pattern))

    walk(get_resolver().url_patterns, "")
    return sorted({r for r in found if not r.startswith(SKIPPED_PREFIXES)})


ROUTES = _routes()


def _form_fields() -> list[str]:
    names = {"page", "url", "sort", "return_url", "replies", "queue", "q", "limit", "lang"}
    names |= {"cursor", "token", "site", "remove", "next", "confirm", "frequency", "ids"}
    for module in (moderation_forms, support_forms, migration_forms):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, forms.Form):
                names |= set(value.base_fields)
    return sorted(names)


FIELDS = _form_fields()

HOSTILE = st.sampled_from(
    [
        "",
        "0",
        "-1",
        "1",
        "2",
        str(2**63),
        str(2**70),
        "1e999",
        "NaN",
        "approve",
        "reject",
        "hide",
        "spam",
        "1,2,3",
        "x" * 5000,
        "\x00",
        "a\x00b",
        "https://news.example/2016/07/incirlik/",
        "javascript:alert(1)",
        "//evil.example/",
        "../../etc/passwd",
        "<script>alert(1)</script>",
        "7d",
        "forever",
        "daily",
        "ip",
        "email",
    ]
)
VALUES = st.one_of(HOSTILE, st.text(max_size=40), st.integers(-(2**70), 2**70).map(str))
# What no client library would encode, sent as it is: bytes that are not UTF-8, a lone
# surrogate's UTF-8-like encoding, broken percent escapes, a NUL.
RAW_QUERIES = st.sampled_from(
    ["q=%ED%A0%80", "page=%FF%FE", "q=%", "q=%zz&page=%", "url=%00", "sort=a%00b&limit=1"]
)
FORM_DATA = st.dictionaries(
    st.sampled_from(FIELDS), st.one_of(VALUES, st.lists(VALUES, max_size=3)), max_size=6
)


@pytest.fixture
def world(make_site):
    """The demo (its article, campaign and seed comments, for the test client's port 80), a
    site with a pending comment, a moderator of both and a stranger; returns the path values
    that exist, for the path parameters to pick from beside ones that do not."""
    demo, _ = load_demo(80)
    site = make_site(slug="pre", name="Pre Example", moderation_mode="pre")
    make_site(slug="other", name="Other Example")
    comment = do_post_comment(site=site, url=ARTICLE, body="Waiting for a moderator.").comment
    user = get_user_model().objects.create_user("mod", email="mod@news.example")
    moderation_actions.do_add_moderator(user, site)
    moderation_actions.do_add_moderator(user, demo)
    seeded = demo.threads.get().comments.order_by("pk").first()
    return {
        "slug": ["pre", "other", demo.slug, CAMPAIGN_SLUG],
        "int": [comment.pk, comment.thread_id, seeded.pk],
    }


def _path_values(kind: str, existing: dict[str, list]) -> st.SearchStrategy[str]:
    if kind in ("int", "path"):
        known = [str(v) for v in existing["int"]]
        return st.sampled_from([*known, "0", str(2**63), str(2**70), "1"])
    if kind == "slug":
        return st.sampled_from([*existing["slug"], "nope", "x" * 300, "a-b_c"])
    # str: tokens, asset names
    return st.one_of(
        st.sampled_from(["x", "a.b.c", "embed.js", "demo.js", "..", "%00", "x" * 400]),
        st.text(alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=60).map(
            lambda text: re.sub(r"[/?#%\s]", "", text) or "x"
        ),
    )


PATH_PARAMETER = re.compile(r"<(?:(\w+):)?(\w+)>")


def _concrete(route: str, draw, existing: dict[str, list]) -> str | None:
    """The route with its parameters filled in, or None for a regex route (assets by digest)."""
    if route.startswith("^") or "(?P<" in route:
        return None
    return "/" + PATH_PARAMETER.sub(
        lambda match: draw(_path_values(match.group(1) or "str", existing)), route
    )


def _clients() -> dict[str, Client]:
    moderator = Client(raise_request_exception=False)
    moderator.force_login(get_user_model().objects.get(username="mod"))
    return {"moderator": moderator, "stranger": Client(raise_request_exception=False)}


@pytest.mark.parametrize("route", ROUTES)
def test_no_page_answers_5xx(world, route):
    clients = _clients()

    @FUZZ
    @given(data=st.data(), form=FORM_DATA, method=st.sampled_from(["GET", "POST"]))
    def check(data, form, method):
        path = _concrete(route, data.draw, world)
        if path is None:
            path = "/" + route.strip("^$").replace("\\", "")
        who = data.draw(st.sampled_from(sorted(clients)))
        client = clients[who]
        if method == "GET" and data.draw(st.booleans()):
            response = client.get(f"{path}?{data.draw(RAW_QUERIES)}")
        elif method == "GET":
            response = client.get(path, form)
        else:
            response = client.post(path, form, headers={"Accept": "application/json"})
        assert response.status_code < 500, (
            f"{method} {path} as {who} with {form!r}: {response.status_code}"
        )

    check()


def test_every_route_is_fuzzed():
    """The moderation queue and the notification links are among them (the list is the
    resolver's, not written by hand)."""
    assert "moderate/<slug:slug>/comments/<int:comment_id>/decide/" in ROUTES
    assert "notifications/unsubscribe/<str:token>/" in ROUTES
    assert not any(route.startswith("api/") for route in ROUTES)
