"""Posting, editing and deleting comments through the HTTP API."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from tests.conftest import ARTICLE, ORIGIN
from townhall.discussions.models import Comment, Thread
from townhall.discussions.schemas import BODY_CEILING
from townhall.identity import tokens
from townhall.identity.models import Commenter
from townhall.sites.models import Site

pytestmark = pytest.mark.django_db

OTHER_ARTICLE = f"{ORIGIN}/2016/07/coup/"
COMMENTS = "/api/v1/comments"
MISSING = object()


def rows() -> tuple[int, int, int]:
    return Thread.objects.count(), Comment.objects.count(), Commenter.objects.count()


def post(
    api,
    site: Site,
    body: str | None = None,
    *,
    url: str = ARTICLE,
    token=None,
    origin=None,
    remote_addr: str = "127.0.0.1",
    **fields,
):
    # Distinct by default: the moderation pipeline holds the same text posted twice.
    body = body if body is not None else f"A comment ({next(NUMBERS)})."
    payload = {"site": site.slug, "url": url, "body": body, **fields}
    return api.post(COMMENTS, payload, token=token, origin=origin, remote_addr=remote_addr)


NUMBERS = itertools.count(1)


def error_code(response) -> str:
    return response.json()["error"]["code"]


def set_site(site: Site, **fields) -> None:
    Site.objects.filter(pk=site.pk).update(**fields)


# Posting


def test_post_returns_the_comment_an_edit_token_and_the_edit_deadline(api, site):
    before = timezone.now()
    response = post(api, site, "Hello *world*")
    after = timezone.now()

    assert response.status_code == 201
    body = response.json()
    comment = body["comment"]
    assert comment["html"] == "<p>Hello <em>world</em></p>"
    assert comment["status"] == "visible"
    assert comment["author_name"] == "Anonymous"
    assert comment["parent_id"] is None and comment["depth"] == 0
    assert (comment["upvotes"], comment["downvotes"], comment["score"]) == (0, 0, 0)
    assert comment["edited"] is None and comment["replies"] == []
    created = datetime.fromisoformat(comment["created"])
    assert before <= created <= after
    editable_until = datetime.fromisoformat(body["editable_until"])
    assert editable_until - created == timedelta(seconds=site.edit_window_seconds)
    assert isinstance(body["edit_token"], str) and len(body["edit_token"]) > 20

    stored = Comment.objects.get(pk=comment["id"])
    assert stored.body == "Hello *world*" and stored.status == "visible"
    assert stored.thread.site_id == site.pk


def test_editable_until_follows_the_sites_edit_window(api, make_site):
    site = make_site(edit_window_seconds=60)
    body = post(api, site).json()
    created = datetime.fromisoformat(body["comment"]["created"])
    assert datetime.fromisoformat(body["editable_until"]) - created == timedelta(seconds=60)


def test_first_comment_creates_the_thread_with_its_title(api, site):
    assert not Thread.objects.exists()
    post(api, site, title="  Incirlik   air base  ")
    thread = Thread.objects.get()
    assert thread.site_id == site.pk
    assert thread.title == "Incirlik air base"
    assert thread.url == ARTICLE
    assert thread.comment_count == 1

    # Later comments keep the first title and the same thread.
    post(api, site, title="Another title", url=ARTICLE + "#comments")
    thread.refresh_from_db()
    assert Thread.objects.count() == 1
    assert thread.title == "Incirlik air base"
    assert thread.comment_count == 2


def test_reply_is_placed_under_its_parent(api, site):
    parent = post(api, site, "Parent").json()["comment"]
    response = post(api, site, "Reply", parent_id=parent["id"])
    assert response.status_code == 201
    reply = response.json()["comment"]
    assert reply["parent_id"] == parent["id"] and reply["depth"] == 1
    assert Thread.objects.get().comment_count == 2


def test_pre_moderated_site_accepts_with_202_and_shows_nothing(api, make_site):
    site = make_site(moderation_mode="pre")
    response = post(api, site, "Waiting for a moderator")
    assert response.status_code == 202
    body = response.json()
    assert body["comment"]["status"] == "pending"
    # Its author sees what they wrote, though nobody else does yet.
    assert body["comment"]["html"] == "<p>Waiting for a moderator</p>"
    assert body["comment"]["author_name"] == "Anonymous"
    assert body["edit_token"] and body["editable_until"]
    assert Comment.objects.get(pk=body["comment"]["id"]).status == "pending"
    assert Thread.objects.get().comment_count == 0

    # Even a returning commenter waits on a fully pre-moderated site.
    Comment.objects.filter(pk=body["comment"]["id"]).update(status="visible")
    again = post(api, site, "Second", token=body["edit_token"])
    assert again.status_code == 202


def test_pre_first_holds_a_first_comment_until_one_is_approved(api, make_site):
    site = make_site(moderation_mode="pre_first")
    first = post(api, site, "My first comment")
    assert first.status_code == 202
    assert first.json()["comment"]["status"] == "pending"
    token = first.json()["edit_token"]

    # Still nothing approved: the second one waits too.
    second = post(api, site, "Still waiting", token=token)
    assert second.status_code == 202

    # A moderator approves the first (set directly; there are no moderation actions yet).
    Comment.objects.filter(pk=first.json()["comment"]["id"]).update(status="visible")

    third = post(api, site, "Now I am known", token=token)
    assert third.status_code == 201
    assert third.json()["comment"]["status"] == "visible"

    # Someone else is still new.
    assert post(api, site, "A stranger", remote_addr="10.9.9.9").status_code == 202


def test_pre_first_approval_on_another_commenter_does_not_count(api, make_site):
    site = make_site(moderation_mode="pre_first")
    approved = post(api, site, "Approved").json()
    Comment.objects.filter(pk=approved["comment"]["id"]).update(status="visible")
    other = post(api, site, "Different reader").json()
    response = post(api, site, "Again", token=other["edit_token"])
    assert response.status_code == 202


def test_posting_again_with_the_token_reuses_the_commenter(api, site):
    first = post(api, site, "One", author_name="Ayşe", author_email="ayse@example.org").json()
    token = first["edit_token"]
    assert Commenter.objects.count() == 1

    second = post(api, site, "Two", token=token, url=OTHER_ARTICLE)
    assert second.status_code == 201
    assert second.json()["comment"]["author_name"] == "Ayşe"
    assert Commenter.objects.count() == 1
    commenter = Commenter.objects.get()
    assert commenter.email == "ayse@example.org"
    assert set(Comment.objects.values_list("author_id", flat=True)) == {commenter.pk}

    third = post(api, site, "Three", token=token, author_name="Ayşe K.")
    assert third.json()["comment"]["author_name"] == "Ayşe K."
    assert Commenter.objects.count() == 1
    commenter.refresh_from_db()
    assert commenter.display_name == "Ayşe K."


def test_posting_without_a_token_makes_a_new_commenter_each_time(api, site):
    post(api, site, "One", author_name="Same Name")
    post(api, site, "Two", author_name="Same Name")
    assert Commenter.objects.count() == 2


@pytest.mark.parametrize("name", [MISSING, None, "", "   \t "])
def test_anonymous_name_is_the_default(api, site, name):
    fields = {} if name is MISSING else {"author_name": name}
    response = post(api, site, **fields)
    assert response.status_code == 201
    assert response.json()["comment"]["author_name"] == "Anonymous"
    assert Commenter.objects.get().display_name == "Anonymous"


def test_name_whitespace_is_collapsed(api, site):
    response = post(api, site, author_name="  Jane \n  Doe ")
    assert response.json()["comment"]["author_name"] == "Jane Doe"


def test_name_of_exactly_80_chars_is_accepted(api, site):
    response = post(api, site, author_name="n" * 80)
    assert response.status_code == 201
    assert response.json()["comment"]["author_name"] == "n" * 80


def test_body_of_exactly_the_sites_limit_is_accepted(api, site):
    assert post(api, site, "x" * site.max_comment_chars).status_code == 201


def test_sites_own_body_limit_applies(api, site):
    set_site(site, max_comment_chars=20)
    assert post(api, site, "x" * 20).status_code == 201
    response = post(api, site, "x" * 21)
    assert response.status_code == 400
    assert error_code(response) == "body_too_long"


def test_allowed_origin_may_post(api, site):
    assert post(api, site, origin=ORIGIN).status_code == 201


def test_origin_allowed_for_another_site_may_not_post(api, site, make_site):
    make_site(slug="other", origins=["https://other.example"])
    before = rows()
    response = post(api, site, origin="https://other.example")
    assert response.status_code == 403
    assert error_code(response) == "origin_not_allowed"
    assert rows() == before


def test_token_issued_by_another_site_is_refused(api, site, make_site):
    other = make_site(slug="other")
    foreign = post(api, other, "Elsewhere").json()["edit_token"]
    before = rows()
    response = post(api, site, token=foreign)
    assert response.status_code == 401
    assert error_code(response) == "invalid_token"
    assert rows() == before


def test_revoked_token_is_refused(api, site):
    token = post(api, site).json()["edit_token"]
    Commenter.objects.update(token_nonce="rotated")
    before = rows()
    response = post(api, site, token=token)
    assert response.status_code == 401
    assert error_code(response) == "invalid_token"
    assert rows() == before


def test_url_of_an_origin_the_site_does_not_allow_creates_no_thread(api, site):
    response = post(api, site, url="https://elsewhere.example/2016/07/incirlik/")
    assert response.status_code == 403
    assert error_code(response) == "url_not_allowed"
    assert response.json()["error"]["field"] == "url"
    assert not Thread.objects.exists()
    assert rows() == (0, 0, 0)


def test_comment_on_a_closed_thread_is_refused(api, site):
    post(api, site)
    Thread.objects.update(is_open=False)
    before = rows()
    response = post(api, site, "Too late")
    assert response.status_code == 403
    assert error_code(response) == "thread_closed"
    assert rows() == before


# Refused posts: each leaves no thread, comment or commenter behind.


@pytest.fixture
def existing(api, site) -> dict:
    """A comment on ARTICLE (so a thread exists) and its edit token."""
    return post(api, site, "Already here", author_name="First").json()


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        pytest.param({"body": ""}, 400, "empty_body", id="empty-body"),
        pytest.param({"body": "  \n\t  "}, 400, "empty_body", id="blank-body"),
        # NUL is refused in any input, before the view (townhall/core/nul.py).
        pytest.param({"body": "\x00\r\n"}, 422, "invalid_request", id="nul-body"),
        pytest.param({"body": "x" * 10_001}, 400, "body_too_long", id="body-over-site-limit"),
        pytest.param({"site": "nope"}, 404, "unknown_site", id="unknown-site"),
        pytest.param(
            {"url": "https://elsewhere.example/a"}, 403, "url_not_allowed", id="url-not-allowed"
        ),
        pytest.param({"url": "not a url"}, 400, "invalid_url", id="url-not-a-url"),
        pytest.param({"url": "javascript:alert(1)"}, 400, "invalid_url", id="url-javascript"),
        pytest.param({"parent_id": 999_999}, 400, "invalid_parent", id="parent-missing"),
        pytest.param({"author_email": "not-an-email"}, 400, "invalid_email", id="bad-email"),
        pytest.param({"author_email": "a@b@c"}, 400, "invalid_email", id="bad-email-2"),
        pytest.param({"author_name": "n" * 81}, 400, "name_too_long", id="name-81"),
        pytest.param({"body": MISSING}, 422, "invalid_request", id="no-body"),
        pytest.param({"site": MISSING}, 422, "invalid_request", id="no-site"),
        pytest.param({"url": MISSING}, 422, "invalid_request", id="no-url"),
        pytest.param({"site": ""}, 422, "invalid_request", id="blank-site"),
        pytest.param({"body": 42}, 422, "invalid_request", id="body-not-a-string"),
        pytest.param({"parent_id": "first"}, 422, "invalid_request", id="parent-not-an-int"),
        pytest.param({"title": "t" * 2001}, 422, "invalid_request", id="title-over-schema"),
        pytest.param({"author_name": "n" * 500}, 400, "name_too_long", id="name-500"),
        pytest.param(
            {"url": "https://news.example/" + "a" * 2048},
            422,
            "invalid_request",
            id="url-over-schema",
        ),
    ],
)
def test_refused_posts_write_nothing(api, site, existing, fields, status, code):
    payload = {"site": site.slug, "url": OTHER_ARTICLE, "body": "Text"}
    for name, value in fields.items():
        if value is MISSING:
            del payload[name]
        else:
            payload[name] = value
    before = rows()
    response = api.post(COMMENTS, payload)
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert rows() == before
    assert not Thread.objects.filter(url=OTHER_ARTICLE).exists()


def test_missing_field_is_named_in_the_422(api, site):
    response = api.post(COMMENTS, {"site": site.slug, "url": ARTICLE})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["field"] == "data.body" or error["field"].endswith("body")
    assert any(f["loc"][-1] == "body" for f in error["fields"])


@pytest.mark.parametrize(
    ("token", "code"),
    [("garbage", "invalid_token"), ("a.b.c", "invalid_token"), ("x" * 500, "invalid_token")],
)
def test_unknown_token_is_refused(api, site, existing, token, code):
    before = rows()
    response = post(api, site, token=token, url=OTHER_ARTICLE)
    assert response.status_code == 401
    assert error_code(response) == code
    assert rows() == before


def test_expired_token_is_refused(api, site, existing, monkeypatch):
    monkeypatch.setattr(tokens, "MAX_AGE_SECONDS", -1)
    before = rows()
    response = post(api, site, token=existing["edit_token"], url=OTHER_ARTICLE)
    assert response.status_code == 401
    assert error_code(response) == "token_expired"
    assert rows() == before


def test_origin_not_allowed_is_refused(api, site, existing):
    before = rows()
    response = post(api, site, origin="https://evil.example", url=OTHER_ARTICLE)
    assert response.status_code == 403
    assert error_code(response) == "origin_not_allowed"
    assert rows() == before


def test_reply_to_a_comment_of_another_thread_is_refused(api, site, existing):
    before = rows()
    response = post(api, site, "Reply", url=OTHER_ARTICLE, parent_id=existing["comment"]["id"])
    assert response.status_code == 400
    assert error_code(response) == "invalid_parent"
    # The new article's thread was not left behind by the failed first comment.
    assert rows() == before
    assert not Thread.objects.filter(url=OTHER_ARTICLE).exists()


def test_reply_to_a_comment_of_another_site_is_refused(api, site, make_site):
    other = make_site(slug="other")
    foreign = post(api, other, "Elsewhere").json()["comment"]
    before = rows()
    response = post(api, site, "Reply", parent_id=foreign["id"])
    assert response.status_code == 400
    assert error_code(response) == "invalid_parent"
    assert rows() == before


@pytest.mark.parametrize("status", ["pending", "rejected", "spam"])
def test_reply_to_a_hidden_comment_is_refused(api, site, existing, status):
    Comment.objects.filter(pk=existing["comment"]["id"]).update(status=status)
    before = rows()
    response = post(api, site, "Reply", parent_id=existing["comment"]["id"])
    assert response.status_code == 400
    assert error_code(response) == "invalid_parent"
    assert rows() == before


def test_reply_to_a_deleted_comment_is_refused(api, site, existing):
    deleted = api.delete(f"{COMMENTS}/{existing['comment']['id']}", token=existing["edit_token"])
    assert deleted.status_code == 204
    before = rows()
    response = post(api, site, "Reply", parent_id=existing["comment"]["id"])
    assert response.status_code == 400
    assert error_code(response) == "invalid_parent"
    assert rows() == before


def test_body_over_the_schema_ceiling_is_a_422(api, site, settings):
    # Let the request through the size limit, and the site's own limit above the ceiling, so
    # the schema is what refuses it.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000_000
    set_site(site, max_comment_chars=500_000)
    response = post(api, site, "x" * (BODY_CEILING + 1))
    assert response.status_code == 422
    assert error_code(response) == "invalid_request"
    assert response.json()["error"]["field"].endswith("body")
    assert rows() == (0, 0, 0)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(
            json.dumps({"site": "news", "url": ARTICLE, "body": "x" * 70_000}).encode(),
            id="json",
        ),
        pytest.param(b"x" * (64 * 1024 + 1), id="not-even-json"),
    ],
)
def test_request_over_64_kib_is_a_413(api, site, raw):
    assert len(raw) > 64 * 1024
    response = api.post(COMMENTS, raw=raw)
    assert response.status_code == 413
    assert error_code(response) == "payload_too_large"
    assert rows() == (0, 0, 0)


def test_largest_body_the_schema_takes_fits_in_a_request(api, site):
    raw = json.dumps({"site": "news", "url": ARTICLE, "body": "x" * BODY_CEILING}).encode()
    assert len(raw) <= 64 * 1024
    response = api.post(COMMENTS, raw=raw)
    # Not a 413 nor a 422: the site's own limit (10,000 chars) is what refuses it.
    assert response.status_code == 400
    assert error_code(response) == "body_too_long"


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize(
    "raw", [b'{"site": "news",', b"not json", b'{"site": "news", "body": "x" "y"}', b"\xff\xfe"]
)
def test_malformed_json_is_a_400(api, site, settings, debug, raw):
    # The code is stable whatever DEBUG is set to.
    settings.DEBUG = debug
    response = api.post(COMMENTS, raw=raw)
    assert response.status_code == 400
    assert error_code(response) == "malformed_body"
    assert response.json()["error"]["message"]
    assert rows() == (0, 0, 0)


@pytest.mark.parametrize("raw", [b"[]", b'"a string"', b"42", b"null"])
def test_json_that_is_not_an_object_is_a_4xx(api, site, raw):
    response = api.post(COMMENTS, raw=raw)
    assert response.status_code in (400, 422)
    assert error_code(response) in ("malformed_body", "invalid_request")
    assert rows() == (0, 0, 0)


# Rate limits


def test_posts_per_address_are_rate_limited(api, site):
    set_site(site, post_rate_per_client="2/m")
    assert post(api, site, "One").status_code == 201
    assert post(api, site, "Two").status_code == 201
    before = rows()

    limited = post(api, site, "Three")
    assert limited.status_code == 429
    assert error_code(limited) == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert rows() == before

    assert post(api, site, "From elsewhere", remote_addr="10.0.0.2").status_code == 201


def test_posts_per_identity_are_rate_limited_across_addresses(api, site):
    set_site(site, post_rate_per_identity="2/m")
    token = post(api, site, "First, no token yet", remote_addr="10.0.0.1").json()["edit_token"]
    assert post(api, site, "Two", token=token, remote_addr="10.0.0.2").status_code == 201
    assert post(api, site, "Three", token=token, remote_addr="10.0.0.3").status_code == 201
    before = rows()
    limited = post(api, site, "Four", token=token, remote_addr="10.0.0.4")
    assert limited.status_code == 429
    assert error_code(limited) == "rate_limited"
    assert "Retry-After" in limited.headers
    assert rows() == before


def test_rate_limit_can_be_switched_off(api, site, settings):
    settings.RATELIMIT_ENABLE = False
    set_site(site, post_rate_per_client="2/m")
    statuses = [post(api, site, f"Comment {n}").status_code for n in range(5)]
    assert statuses == [201] * 5


def test_rate_limits_are_per_site(api, site, make_site):
    set_site(site, post_rate_per_client="1/m")
    other = make_site(slug="other")
    assert post(api, site).status_code == 201
    assert post(api, site).status_code == 429
    assert post(api, other).status_code == 201


# Editing


def comment_url(comment_id: int) -> str:
    return f"{COMMENTS}/{comment_id}"


@pytest.fixture
def mine(api, site) -> dict:
    return post(api, site, "Original text", author_name="Author").json()


def test_edit_rerenders_and_marks_the_comment_edited(api, site, mine):
    response = api.patch(
        comment_url(mine["comment"]["id"]), {"body": "New *text*"}, token=mine["edit_token"]
    )
    assert response.status_code == 200
    edited = response.json()
    assert edited["id"] == mine["comment"]["id"]
    assert edited["html"] == "<p>New <em>text</em></p>"
    assert edited["edited"] is not None
    assert datetime.fromisoformat(edited["edited"]) >= datetime.fromisoformat(
        mine["comment"]["created"]
    )
    assert edited["author_name"] == "Author"
    stored = Comment.objects.get(pk=mine["comment"]["id"])
    assert stored.body == "New *text*" and stored.body_html == "<p>New <em>text</em></p>"


def test_edit_shows_on_the_thread_page_even_after_it_was_cached(api, site, mine):
    assert api.thread(site).json()["comments"][0]["html"] == "<p>Original text</p>"
    api.patch(comment_url(mine["comment"]["id"]), {"body": "Changed"}, token=mine["edit_token"])
    [shown] = api.thread(site).json()["comments"]
    assert shown["html"] == "<p>Changed</p>"
    assert shown["edited"] is not None
    assert api.thread(site).json()["thread"]["comment_count"] == 1


def test_edit_from_an_allowed_origin(api, site, mine):
    response = api.patch(
        comment_url(mine["comment"]["id"]),
        {"body": "Changed"},
        token=mine["edit_token"],
        origin=ORIGIN,
    )
    assert response.status_code == 200


def test_pending_comment_can_be_edited_by_its_author(api, make_site):
    site = make_site(moderation_mode="pre")
    posted = post(api, site, "Waiting").json()
    response = api.patch(
        comment_url(posted["comment"]["id"]), {"body": "Still waiting"}, token=posted["edit_token"]
    )
    assert response.status_code == 200
    assert Comment.objects.get(pk=posted["comment"]["id"]).body == "Still waiting"
    assert Thread.objects.get().comment_count == 0


@pytest.fixture
def someone_else(api, site) -> str:
    return post(api, site, "Not yours", url=OTHER_ARTICLE, remote_addr="10.0.0.9").json()[
        "edit_token"
    ]


def _refused_write(api, method, mine, *, token=None, origin=None, body=None):
    path = comment_url(mine["comment"]["id"])
    if method == "PATCH":
        return api.patch(path, body or {"body": "Hijacked"}, token=token, origin=origin)
    return api.delete(path, token=token, origin=origin)


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("nobody", 401, "token_required"),
        ("basic-auth", 401, "token_required"),
        ("garbage", 401, "invalid_token"),
        ("someone-else", 403, "not_author"),
        ("other-site", 401, "invalid_token"),
        ("evil-origin", 403, "origin_not_allowed"),
    ],
)
def test_only_the_author_may_change_a_comment(
    api, site, make_site, mine, someone_else, method, who, status, code
):
    path = comment_url(mine["comment"]["id"])
    headers: dict = {}
    token = origin = None
    if who == "basic-auth":
        headers = {"Authorization": "Basic dXNlcjpwYXNz"}
    elif who == "garbage":
        token = "garbage"
    elif who == "someone-else":
        token = someone_else
    elif who == "other-site":
        token = post(api, make_site(slug="other"), "Elsewhere").json()["edit_token"]
    elif who == "evil-origin":
        token, origin = mine["edit_token"], "https://evil.example"
    if method == "PATCH":
        response = api.patch(
            path, {"body": "Hijacked"}, token=token, origin=origin, headers=headers
        )
    else:
        response = api.delete(path, token=token, origin=origin, headers=headers)
    assert response.status_code == status
    assert error_code(response) == code
    stored = Comment.objects.get(pk=mine["comment"]["id"])
    assert (stored.status, stored.body) == ("visible", "Original text")
    assert stored.thread.comment_count == 1


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_expired_token_cannot_change_a_comment(api, site, mine, monkeypatch, method):
    monkeypatch.setattr(tokens, "MAX_AGE_SECONDS", -1)
    response = _refused_write(api, method, mine, token=mine["edit_token"])
    assert response.status_code == 401
    assert error_code(response) == "token_expired"
    assert Comment.objects.get(pk=mine["comment"]["id"]).body == "Original text"


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_edit_window_closes(api, site, mine, method):
    Comment.objects.filter(pk=mine["comment"]["id"]).update(
        created=timezone.now() - timedelta(seconds=site.edit_window_seconds + 1)
    )
    response = _refused_write(api, method, mine, token=mine["edit_token"])
    assert response.status_code == 403
    assert error_code(response) == "edit_window_closed"
    stored = Comment.objects.get(pk=mine["comment"]["id"])
    assert (stored.status, stored.body) == ("visible", "Original text")


def test_edit_window_still_open_just_before_it_closes(api, site, mine):
    Comment.objects.filter(pk=mine["comment"]["id"]).update(
        created=timezone.now() - timedelta(seconds=site.edit_window_seconds - 30)
    )
    response = api.patch(
        comment_url(mine["comment"]["id"]), {"body": "Just in time"}, token=mine["edit_token"]
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"body": ""}, 400, "empty_body"),
        ({"body": "   \n "}, 400, "empty_body"),
        ({"body": "x" * 10_001}, 400, "body_too_long"),
        ({}, 422, "invalid_request"),
        ({"body": None}, 422, "invalid_request"),
    ],
)
def test_bad_edits_change_nothing(api, site, mine, body, status, code):
    version = Thread.objects.get().version
    response = api.patch(comment_url(mine["comment"]["id"]), body, token=mine["edit_token"])
    assert response.status_code == status
    assert error_code(response) == code
    stored = Comment.objects.get(pk=mine["comment"]["id"])
    assert (stored.body, stored.edited) == ("Original text", None)
    assert Thread.objects.get().version == version


def test_malformed_edit_is_a_400(api, site, mine):
    response = api.patch(
        comment_url(mine["comment"]["id"]), raw=b"{body:", token=mine["edit_token"]
    )
    assert response.status_code == 400
    assert error_code(response) == "malformed_body"


# Deleting


def test_delete_removes_the_text_and_decrements_the_count(api, site, mine):
    post(api, site, "Another")
    assert Thread.objects.get().comment_count == 2
    response = api.delete(comment_url(mine["comment"]["id"]), token=mine["edit_token"])
    assert response.status_code == 204
    assert response.content == b""
    assert Thread.objects.get().comment_count == 1
    stored = Comment.objects.get(pk=mine["comment"]["id"])
    assert stored.status == "deleted"
    assert (stored.body, stored.body_html, stored.author_name) == ("", "", "")
    page = api.thread(site).json()
    assert page["thread"]["comment_count"] == 1
    assert [c["html"] for c in page["comments"]] == ["<p>Another</p>"]


def test_delete_twice_is_a_404_and_counts_once(api, site, mine):
    path = comment_url(mine["comment"]["id"])
    assert api.delete(path, token=mine["edit_token"]).status_code == 204
    again = api.delete(path, token=mine["edit_token"])
    assert again.status_code == 404
    assert error_code(again) == "comment_not_found"
    assert Thread.objects.get().comment_count == 0


def test_edit_after_delete_is_a_404(api, site, mine):
    path = comment_url(mine["comment"]["id"])
    api.delete(path, token=mine["edit_token"])
    response = api.patch(path, {"body": "Back from the dead"}, token=mine["edit_token"])
    assert response.status_code == 404
    assert error_code(response) == "comment_not_found"
    stored = Comment.objects.get(pk=mine["comment"]["id"])
    assert (stored.status, stored.body) == ("deleted", "")


def test_deleting_a_pending_comment_leaves_the_count_alone(api, make_site):
    site = make_site(moderation_mode="pre")
    posted = post(api, site, "Waiting").json()
    response = api.delete(comment_url(posted["comment"]["id"]), token=posted["edit_token"])
    assert response.status_code == 204
    assert Thread.objects.get().comment_count == 0
    assert Comment.objects.get(pk=posted["comment"]["id"]).status == "deleted"


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
@pytest.mark.parametrize("with_token", [True, False])
def test_nonexistent_comment_is_a_404(api, site, mine, method, with_token):
    token = mine["edit_token"] if with_token else None
    path = comment_url(mine["comment"]["id"] + 1000)
    if method == "PATCH":
        response = api.patch(path, {"body": "x"}, token=token)
    else:
        response = api.delete(path, token=token)
    assert response.status_code == 404
    assert error_code(response) == "comment_not_found"


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_comment_id_that_is_not_a_number_is_a_4xx(api, site, method):
    path = f"{COMMENTS}/abc"
    response = api.patch(path, {"body": "x"}) if method == "PATCH" else api.delete(path)
    assert response.status_code in (404, 422)
    assert response.json()["error"]["code"]


def test_thread_keeps_the_canonical_url_not_the_first_visitors(api, site):
    post(api, site, "Hello", url=f"{ORIGIN}/a/?utm_source=mail&id=7#comments")
    assert Thread.objects.get().url == f"{ORIGIN}/a/?id=7"


def test_validation_errors_name_the_field_as_the_api_does(api, site):
    response = api.post("/api/v1/comments", {"site": "news", "url": ARTICLE})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "body"
    assert response.json()["error"]["fields"][0]["loc"] == ["body", "body"]
