"""What the API fuzzer (tests/hardening/test_api_fuzz.py) found, kept fixed without it: NUL
characters in input, and answers the OpenAPI document did not declare."""

from __future__ import annotations

import pytest

from tests.conftest import ARTICLE, ORIGIN

pytestmark = pytest.mark.django_db


def _refused_for_nul(response, field: str, loc: list[str]) -> None:
    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["field"] == field
    assert "NUL" in error["message"]
    assert error["fields"] == [{"loc": loc, "message": error["fields"][0]["message"]}]


# PostgreSQL refuses NUL in any text, even in a query's parameter: these were 500s there.


def test_a_nul_in_a_query_parameter_is_a_422(api, site):
    response = api.get("/api/v1/threads", site="ne\x00ws", url=ARTICLE)
    _refused_for_nul(response, "site", ["query", "site"])


def test_a_nul_in_a_repeated_query_parameter_is_a_422(api, site):
    response = api.get("/api/v1/counts", site=site.slug, url=[ARTICLE, "x\x00"])
    _refused_for_nul(response, "url", ["query", "url"])


def test_a_nul_in_a_path_parameter_is_a_422(api, site):
    response = api.get(f"/api/v1/campaigns/{site.slug}/f%00nd")
    _refused_for_nul(response, "slug", ["path", "slug"])


def test_a_nul_in_a_nested_body_field_is_a_422(api, site):
    posted = api.comment(site)
    response = api.post(
        f"/api/v1/comments/{posted.json()['comment']['id']}/flag",
        {"reason": "spam", "note": "spam\x00spam"},
        origin=ORIGIN,
    )
    _refused_for_nul(response, "note", ["body", "note"])
    response = api.post(
        "/api/v1/comments",
        {"site": site.slug, "url": ARTICLE, "body": "Hi", "passage": {"id": "p\x00"}},
    )
    _refused_for_nul(response, "passage.id", ["body", "passage", "id"])


def test_a_nul_in_a_body_key_is_a_422(api, site):
    response = api.post("/api/v1/preview", {"site": site.slug, "body": "Hi", "b\x00": 1})
    _refused_for_nul(response, "b", ["body", "b"])


def test_an_escaped_backslash_before_u0000_is_text_not_a_nul(api, site):
    response = api.post("/api/v1/preview", {"site": site.slug, "body": "Type \\u0000 here."})
    assert response.status_code == 200, response.content
    assert "\\u0000" in response.json()["html"]


# The document declares every answer the API gives.


@pytest.fixture
def document(api):
    return api.get("/api/openapi.json").json()


def test_every_operation_with_a_body_declares_413(document):
    with_body = [
        (path, method, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    ]
    assert len(with_body) > 10
    for path, method, operation in with_body:
        assert "413" in operation["responses"], (method, path)


def test_live_events_declare_422_for_a_bad_thread_id(api, document):
    operation = document["paths"]["/api/v1/threads/{thread_id}/events"]["get"]
    assert "422" in operation["responses"]
    assert api.get("/api/v1/threads/false/events").status_code == 422


def test_a_posted_comment_links_to_what_may_follow(document):
    operation_ids = {
        operation["operationId"]
        for operations in document["paths"].values()
        for operation in operations.values()
    }
    responses = document["paths"]["/api/v1/comments"]["post"]["responses"]
    for status in ("201", "202"):
        links = responses[status]["links"]
        assert set(links) == {
            "GetReplies",
            "EditComment",
            "DeleteComment",
            "VoteComment",
            "FlagComment",
        }
        for link in links.values():
            assert link["operationId"] in operation_ids
            assert link["parameters"] == {"comment_id": "$response.body#/comment/id"}
