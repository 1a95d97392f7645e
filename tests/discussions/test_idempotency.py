"""POST /comments with an Idempotency-Key: a retry stores nothing and gets the first answer.

The case it is for: the client never saw the answer to its post (a dropped connection, or a 503
from a database whose COMMIT went through just as the connection broke), and sends it again.
"""

from __future__ import annotations

import hashlib

import pytest

from tests.conftest import ARTICLE
from townhall.discussions.models import Comment, Thread

pytestmark = pytest.mark.django_db

KEY = "3f2a9c4e8b7d6a5f1e0c9b8a7d6e5f4a"


def post(api, site, body: str, key: str | None = KEY, **fields):
    payload = {"site": site.slug, "url": ARTICLE, "body": body, "author_name": "Ann", **fields}
    headers = {"Idempotency-Key": key} if key is not None else {}
    token = fields.pop("token", None)
    payload.pop("token", None)
    return api.post("/api/v1/comments", payload, headers=headers, token=token)


def test_a_retry_with_the_same_key_answers_the_comment_stored_first(api, site):
    first = post(api, site, "Said once.")
    assert first.status_code == 201
    again = post(api, site, "Said once.")
    assert again.status_code == 201
    assert again.json()["comment"] == first.json()["comment"]
    assert Comment.objects.count() == 1
    assert Thread.objects.get().comment_count == 1
    # The answer carries a token that edits the comment, as the first one did.
    token = again.json()["edit_token"]
    edited = api.patch(
        f"/api/v1/comments/{first.json()['comment']['id']}", {"body": "Edited."}, token=token
    )
    assert edited.status_code == 200


def test_without_a_key_the_same_text_twice_is_two_posts(api, site):
    # (The moderation pipeline holds the second: the same text again within a day.)
    assert post(api, site, "Twice.", key=None).status_code == 201
    assert post(api, site, "Twice.", key=None).status_code == 202
    assert Comment.objects.count() == 2


def test_a_held_comment_is_answered_again_as_held(api, site):
    site.moderation_mode = "pre"
    site.save()
    first = post(api, site, "Waits for a moderator.")
    assert first.status_code == 202
    again = post(api, site, "Waits for a moderator.")
    assert again.status_code == 202
    assert again.json()["comment"]["id"] == first.json()["comment"]["id"]
    assert Comment.objects.count() == 1


def test_the_same_key_for_another_comment_is_refused(api, site):
    assert post(api, site, "The first.").status_code == 201
    other = post(api, site, "Another text.")
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    parent_id = Comment.objects.get().pk
    reply = post(api, site, "The first.", parent_id=parent_id)
    assert reply.status_code == 422
    assert Comment.objects.count() == 1


def test_an_edited_comment_is_still_answered_for_its_key(api, site):
    first = post(api, site, "Before the edit.")
    token = first.json()["edit_token"]
    comment_id = first.json()["comment"]["id"]
    api.patch(f"/api/v1/comments/{comment_id}", {"body": "After the edit."}, token=token)
    again = post(api, site, "Before the edit.")
    assert again.status_code == 201
    assert again.json()["comment"]["id"] == comment_id
    assert "After the edit." in again.json()["comment"]["html"]


def test_keys_are_per_site(api, site, make_site):
    other = make_site(slug="other")
    assert post(api, site, "Here.").status_code == 201
    assert post(api, other, "Here.").status_code == 201
    assert Comment.objects.count() == 2


@pytest.mark.parametrize("key", ["short", "x" * 65, "with space in it!!", "ü" * 20])
def test_a_malformed_key_is_a_400(api, site, key):
    response = post(api, site, "Anything.", key=key)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_idempotency_key"
    assert Comment.objects.count() == 0


def test_the_key_is_stored_hashed_never_as_sent(api, site):
    post(api, site, "Hashed.")
    stored = Comment.objects.get().idempotency_key
    assert KEY not in stored
    assert stored == hashlib.sha256(f"{site.pk}:{KEY}".encode()).hexdigest()


def test_a_cross_origin_browser_may_send_the_key(api, site):
    response = api.request(
        "OPTIONS",
        "/api/v1/comments",
        headers={
            "Origin": "https://news.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,idempotency-key",
        },
    )
    assert response.status_code == 200
    assert "idempotency-key" in response["Access-Control-Allow-Headers"]
