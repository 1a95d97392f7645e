"""The security headers of each kind of response (townhall/core/headers.py, docs/deploy.md)."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from tests.conftest import ARTICLE, ORIGIN
from townhall.core.headers import csp_hash, page_csp, widget_style_hashes
from townhall.demo.seed import ARTICLE_PATH
from townhall.widget.assets import embed_script_url

pytestmark = pytest.mark.django_db


def directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    parsed = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        assert name not in parsed, f"{name} twice in {policy}"
        parsed[name] = sources
    return parsed


def assert_everywhere(response) -> None:
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert directives(response)["frame-ancestors"] == ["'none'"]


def assert_strict_page(response) -> dict[str, list[str]]:
    """What every page of Townhall's own holds to: no inline script, nothing from elsewhere."""
    assert_everywhere(response)
    assert response["Referrer-Policy"] == "same-origin"
    csp = directives(response)
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["connect-src"] == ["'self'"]
    assert csp["form-action"][0] == "'self'"
    assert csp.get("object-src", ["'none'"]) == ["'none'"]
    every_source = {source for sources in csp.values() for source in sources}
    assert "'unsafe-inline'" not in every_source and "'unsafe-eval'" not in every_source
    assert "*" not in every_source and "https:" not in every_source
    return csp


@pytest.fixture
def demo():
    call_command("demo", "--port", "80")


def test_demo_page_has_a_strict_policy_allowing_the_widgets_styles_by_hash(client, demo):
    response = client.get(ARTICLE_PATH)
    assert response.status_code == 200
    csp = assert_strict_page(response)
    html = response.content.decode()
    # No inline script, no inline handler: the demo's login script is a file.
    assert re.search(r"<script(?![^>]*\bsrc=)", html) is None
    assert re.search(r"\son[a-z]+=", html) is None
    assert "<style" not in html
    assert set(widget_style_hashes()) <= set(csp["style-src"])
    assert csp["style-src"][0] == "'self'"
    # The goal bar's fill is the one style attribute, allowed by the hash of its exact value.
    widths = re.findall(r'class="townhall-campaign__fill" style="([^"]+)"', html)
    assert widths
    assert csp["style-src-attr"] == ["'unsafe-hashes'", *sorted({csp_hash(w) for w in widths})]
    for path in re.findall(r'(?:src|href)="(/demo/[^"]+)"', html):
        asset = client.get(path)
        assert asset.status_code == 200 and asset["X-Content-Type-Options"] == "nosniff", path


def test_a_style_attribute_other_than_the_goal_bars_is_not_hashed():
    policy = page_csp(b'<p style="background: url(https://evil.example/x)">')
    assert "style-src-attr 'none'" in policy
    assert "evil" not in policy


def test_moderation_pages_have_the_strictest_policy(client, site):
    admin = get_user_model().objects.create_superuser("boss", "boss@example.com", "x")
    login = client.get("/moderate/login/")
    assert assert_strict_page(login)["style-src"] == ["'self'"]
    client.force_login(admin)
    for path in (f"/moderate/{site.slug}/", f"/moderate/{site.slug}/rules/", "/admin/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_strict_page(response)
    assert directives(client.get(f"/moderate/{site.slug}/"))["style-src"] == ["'self'"]


def test_api_responses_have_the_minimal_policy_and_no_referrer(api, site):
    for response in (
        api.get("/api/v1/threads", site=site.slug, url=ARTICLE, headers={"Origin": ORIGIN}),
        api.get("/api/v1/threads/html", site=site.slug, url=ARTICLE),
        api.get("/api/v1/counts", site=site.slug, url=ARTICLE),
        api.get("/api/openapi.json"),
        api.get("/api/v1/nothing-here"),
        Client().put("/api/v1/threads"),  # 405, rewritten by JsonApiErrorsMiddleware
    ):
        assert_everywhere(response)
        assert response["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
        assert response["Referrer-Policy"] == "no-referrer"


def test_cors_preflight_still_answers_with_the_headers(site):
    response = Client().options(
        "/api/v1/comments",
        HTTP_ORIGIN=ORIGIN,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
    )
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert_everywhere(response)


@pytest.mark.parametrize("path", ["/embed.js", "/embed-anchoring.js", "/embed-support.js"])
def test_widget_scripts_may_be_loaded_by_pages_with_coep(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert response["Content-Type"].startswith("text/javascript")
    assert_everywhere(response)
    hashed = client.get(embed_script_url())
    assert hashed["Cross-Origin-Resource-Policy"] == "cross-origin"


def test_other_responses_have_the_minimal_policy(client):
    for response in (client.get("/healthz"), client.post("/demo/sso-token")):
        assert_everywhere(response)
        assert response["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"


def test_no_hsts_from_django_behind_the_tls_proxy(client):
    response = client.get("/healthz", secure=True)
    assert "Strict-Transport-Security" not in response
