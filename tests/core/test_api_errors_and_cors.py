"""The API's edges: OpenAPI schema, the JSON error shape, CORS, health check, unknown paths."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ARTICLE, ORIGIN
from townhall.discussions.models import Comment
from townhall.discussions.schemas import BODY_CEILING
from townhall.sites.actions import do_set_site_origins
from townhall.sites.models import Site

pytestmark = pytest.mark.django_db

ACAO = "Access-Control-Allow-Origin"


# OpenAPI


def test_openapi_lists_every_endpoint(api, site):
    response = api.get("/api/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    schema = response.json()
    paths = schema["paths"]
    expected = {
        "/api/v1/threads": {"get"},
        "/api/v1/comments": {"post"},
        "/api/v1/comments/{comment_id}": {"patch", "delete"},
        "/api/v1/comments/{comment_id}/vote": {"post"},
        "/api/v1/counts": {"get"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert methods <= set(paths[path]), (path, set(paths[path]))


def test_openapi_describes_the_schemas(api, site):
    schema = api.get("/api/openapi.json").json()
    components = schema["components"]["schemas"]
    for name in (
        "CommentIn",
        "CommentEditIn",
        "CommentOut",
        "PostedCommentOut",
        "VoteIn",
        "VoteOut",
        "CountsOut",
        "ThreadPageOut",
        "ThreadOut",
        "ErrorOut",
    ):
        assert name in components, name
    assert {"site", "url", "body"} <= set(components["CommentIn"]["required"])
    assert components["CommentIn"]["properties"]["body"]["maxLength"] == BODY_CEILING
    post = schema["paths"]["/api/v1/comments"]["post"]
    assert {"201", "202", "400", "401", "403", "404", "422", "429"} <= set(post["responses"])
    error_ref = post["responses"]["400"]["content"]["application/json"]["schema"]["$ref"]
    assert error_ref.endswith("/ErrorOut")


# Every error is JSON with a code and a message.


def _setup_comment(api, site) -> dict:
    return api.comment(site, "Here").json()


def _error_requests():
    """(id, callable(api, site) -> response, expected status)."""
    comments = "/api/v1/comments"
    return [
        ("unknown-site", lambda api, site: api.comment(Site(slug="nope")), 404),
        ("empty-body", lambda api, site: api.comment(site, ""), 400),
        (
            "url-not-allowed",
            lambda api, site: api.comment(site, url="https://elsewhere.example/a"),
            403,
        ),
        ("bad-origin", lambda api, site: api.comment(site, origin="https://evil.example"), 403),
        ("bad-token", lambda api, site: api.comment(site, token="garbage"), 401),
        ("missing-field", lambda api, site: api.post(comments, {"site": "news"}), 422),
        ("malformed", lambda api, site: api.post(comments, raw=b"{"), 400),
        ("too-large", lambda api, site: api.post(comments, raw=b"x" * 70_000), 413),
        (
            "no-token-edit",
            lambda api, site: api.patch(
                f"{comments}/{_setup_comment(api, site)['comment']['id']}", {"body": "x"}
            ),
            401,
        ),
        ("missing-comment", lambda api, site: api.delete(f"{comments}/424242"), 404),
        (
            "bad-vote",
            lambda api, site: api.post(
                f"{comments}/{_setup_comment(api, site)['comment']['id']}/vote", {"value": 9}
            ),
            422,
        ),
        ("vote-missing", lambda api, site: api.post(f"{comments}/424242/vote", {"value": 1}), 404),
        (
            "thread-bad-url",
            lambda api, site: api.get("/api/v1/threads", site="news", url="javascript:x"),
            400,
        ),
        (
            "thread-bad-cursor",
            lambda api, site: api.get("/api/v1/threads", site="news", url=ARTICLE, cursor="!!"),
            400,
        ),
        (
            "counts-unknown-site",
            lambda api, site: api.get("/api/v1/counts", site="nope", url=ARTICLE),
            404,
        ),
        ("counts-no-url", lambda api, site: api.get("/api/v1/counts", site="news"), 422),
    ]


@pytest.mark.parametrize(
    ("make_request", "status"),
    [pytest.param(make, status, id=name) for name, make, status in _error_requests()],
)
def test_every_error_is_json_with_code_and_message(api, site, make_request, status):
    response = make_request(api, site)
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert set(body) == {"error"}
    error = body["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]


def test_rate_limited_error_is_json_with_retry_after(api, site):
    Site.objects.filter(pk=site.pk).update(post_rate_per_client="1/m")
    api.comment(site)
    response = api.comment(site)
    assert response.status_code == 429
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "rate_limited"
    assert response.json()["error"]["message"]
    assert int(response["Retry-After"]) >= 1


def test_error_field_names_the_offending_input(api, site):
    response = api.comment(site, "")
    assert response.json()["error"]["field"] == "body"
    response = api.comment(site, author_email="nope")
    assert response.json()["error"]["field"] == "author_email"


def test_unknown_api_path_is_a_404_not_a_500(api, site):
    for path in ("/api/v1/nope", "/api/nope", "/api/v2/comments"):
        response = api.get(path)
        assert response.status_code == 404, path


def test_unknown_api_path_gets_a_json_error(api, site):
    response = api.get("/api/v1/nope")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"]


def test_wrong_method_gets_a_json_405(api, site):
    response = api.post("/api/v1/counts", {})
    assert response.status_code == 405
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"]


def test_unexpected_crash_is_not_leaked(api, site, monkeypatch, client):
    # A bug in an action is a 500 without a traceback in the body.
    from townhall.discussions import actions

    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(actions, "do_post_comment", boom)
    client.raise_request_exception = False
    response = api.comment(site)
    assert response.status_code == 500
    assert b"secret internals" not in response.content
    assert not Comment.objects.exists()


# CORS


def preflight(api, origin: str, path: str = "/api/v1/comments", method: str = "POST"):
    return api.client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


def test_preflight_from_an_allowed_origin(api, site):
    response = preflight(api, ORIGIN)
    assert response.status_code == 200
    assert response[ACAO] == ORIGIN
    assert response["Access-Control-Allow-Credentials"] == "true"
    assert "POST" in response["Access-Control-Allow-Methods"]
    allowed_headers = {h.strip() for h in response["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "if-none-match"} <= allowed_headers


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/v1/comments/1", "PATCH"),
        ("/api/v1/comments/1", "DELETE"),
        ("/api/v1/comments/1/vote", "POST"),
    ],
)
def test_preflight_for_other_writes(api, site, path, method):
    response = preflight(api, ORIGIN, path=path, method=method)
    assert response[ACAO] == ORIGIN
    assert method in response["Access-Control-Allow-Methods"]


def test_preflight_from_an_unknown_origin_is_not_allowed(api, site):
    response = preflight(api, "https://evil.example")
    assert ACAO not in response
    assert "Access-Control-Allow-Credentials" not in response


def test_preflight_from_an_origin_of_any_site_is_allowed(api, site, make_site):
    make_site(slug="other", origins=["https://other.example"])
    assert preflight(api, "https://other.example")[ACAO] == "https://other.example"


def test_preflight_follows_changes_to_allowed_origins(
    api, site, make_site, django_capture_on_commit_callbacks
):
    # The origin list is cached; a newly allowed origin must not wait for the cache to expire.
    assert ACAO not in preflight(api, "https://new.example")
    with django_capture_on_commit_callbacks(execute=True):
        make_site(slug="newcomer", origins=["https://new.example"])
    assert preflight(api, "https://new.example")[ACAO] == "https://new.example"

    with django_capture_on_commit_callbacks(execute=True):
        do_set_site_origins(Site.objects.get(slug="newcomer"), ["https://newer.example"])
    assert ACAO not in preflight(api, "https://new.example")
    assert preflight(api, "https://newer.example")[ACAO] == "https://newer.example"


def _vary(response) -> set[str]:
    return {part.strip().lower() for part in response.get("Vary", "").split(",") if part.strip()}


def test_get_from_an_allowed_origin_gets_cors_headers(api, site):
    response = api.thread(site, headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert response[ACAO] == ORIGIN
    assert response["Access-Control-Allow-Credentials"] == "true"
    assert "origin" in _vary(response)
    exposed = {h.strip().lower() for h in response["Access-Control-Expose-Headers"].split(",")}
    assert {"etag", "retry-after"} <= exposed


def test_error_from_an_allowed_origin_still_gets_cors_headers(api, site):
    # Otherwise the widget cannot read the error's code.
    response = api.comment(site, "", origin=ORIGIN)
    assert response.status_code == 400
    assert response[ACAO] == ORIGIN


def test_get_from_an_unknown_origin_gets_no_allow_origin(api, site):
    response = api.thread(site, headers={"Origin": "https://evil.example"})
    assert response.status_code == 200
    assert ACAO not in response
    assert "origin" in _vary(response)


@pytest.mark.parametrize("path", ["/healthz", "/admin/login/"])
def test_cors_is_only_for_the_api(api, site, path):
    # CORS_URLS_REGEX limits CORS to /api/; credentialed cross-origin reads of other pages
    # (the admin above all) must not be granted to publishers' origins.
    response = api.client.get(path, headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert ACAO not in response
    assert ACAO not in preflight(api, ORIGIN, path=path, method="POST")


# Health


def test_healthz(api, site):
    response = api.client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]


@pytest.mark.parametrize("field", ["body", "author_name", "title"])
def test_a_lone_surrogate_is_a_malformed_body_not_a_500(api, site, field):
    """JSON lets a string escape half of a UTF-16 pair ("\\ud800"); it is no character, and no
    database could store it. The body is refused as malformed, whichever field holds it."""
    payload = {"site": "news", "url": ARTICLE, "body": "Fine.", field: "a \\ud800 b"}
    raw = json.dumps(payload).replace("\\\\ud800", "\\ud800")
    assert "\\ud800" in raw

    response = api.post("/api/v1/comments", raw=raw)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_body"
    assert not Comment.objects.exists()
