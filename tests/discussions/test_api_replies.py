"""A thread page carries the first replies of each top-level comment; the rest come from
``GET /api/v1/comments/{id}/replies``, so a page stays small whatever a subthread holds."""

from __future__ import annotations

import pytest

from townhall.discussions.pages import REPLIES_PER_ROOT

pytestmark = pytest.mark.django_db


def ids(comments: list[dict]) -> list[int]:
    return [c["id"] for c in comments]


def replies(api, root_id: int, **params):
    return api.get(f"/api/v1/comments/{root_id}/replies", **params)


def flatten(comments: list[dict]) -> list[dict]:
    out = []
    for comment in comments:
        out.append(comment)
        out += flatten(comment["replies"])
    return out


@pytest.fixture
def busy(api, site):
    """A root with ten replies, some nested, written in this order."""
    root = api.comment(site, "Root").json()["comment"]
    written = []
    for n in range(10):
        parent = written[n - 1]["id"] if n % 3 == 2 else root["id"]
        # From readers of their own: one reader's rate limit is not what this is about.
        posted = api.comment(site, f"Reply {n}", parent_id=parent, remote_addr=f"10.0.0.{n}")
        written.append(posted.json()["comment"])
    return root, written


def test_a_page_holds_the_first_replies_and_says_how_many_are_left(api, site, busy):
    _root, written = busy
    [shown] = api.thread(site).json()["comments"]
    assert ids(flatten(shown["replies"])) == ids(written[:REPLIES_PER_ROOT])
    assert shown["more_replies"] == 10 - REPLIES_PER_ROOT
    assert shown["replies_cursor"]
    # Replies themselves carry no paging fields.
    assert all("more_replies" not in c for c in flatten(shown["replies"]))


def test_the_rest_come_flat_in_order_from_the_cursor(api, site, busy):
    root, written = busy
    [shown] = api.thread(site).json()["comments"]
    body = replies(api, root["id"], cursor=shown["replies_cursor"]).json()
    assert ids(body["comments"]) == ids(written[REPLIES_PER_ROOT:])
    assert [c["parent_id"] for c in body["comments"]] == [
        c["parent_id"] for c in written[REPLIES_PER_ROOT:]
    ]
    assert all(c["replies"] == [] for c in body["comments"])
    assert body["more_replies"] == 0 and body["next_cursor"] is None


def test_paging_through_replies_misses_and_repeats_nothing(api, site, busy):
    root, written = busy
    seen, cursor, pages = [], None, 0
    while True:
        body = replies(api, root["id"], limit=4, **({"cursor": cursor} if cursor else {})).json()
        seen += ids(body["comments"])
        pages += 1
        assert body["more_replies"] == 10 - len(seen)
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ids(written) and pages == 3


def test_a_hidden_reply_comes_as_a_placeholder_above_a_visible_one(api, site):
    root = api.comment(site, "Root").json()["comment"]
    first = api.comment(site, "First", parent_id=root["id"]).json()["comment"]
    doomed = api.comment(site, "Doomed", parent_id=root["id"]).json()
    api.comment(site, "Third", parent_id=root["id"])
    api.comment(site, "Fourth", parent_id=root["id"])
    under = api.comment(site, "Under doomed", parent_id=doomed["comment"]["id"]).json()["comment"]
    api.delete(f"/api/v1/comments/{doomed['comment']['id']}", token=doomed["edit_token"])

    [shown] = api.thread(site).json()["comments"]
    # Three visible replies (First, Third, Fourth); the deleted one has nothing visible below it
    # on this page, so it is not there.
    assert [c["html"] for c in flatten(shown["replies"])] == [
        "<p>First</p>",
        "<p>Third</p>",
        "<p>Fourth</p>",
    ]
    assert shown["more_replies"] == 1
    body = replies(api, root["id"], cursor=shown["replies_cursor"]).json()
    # The reply below the deleted comment comes with its placeholder, although the placeholder
    # was written before the cursor.
    [placeholder, reply] = body["comments"]
    assert placeholder["id"] == doomed["comment"]["id"] and placeholder["status"] == "deleted"
    assert placeholder["html"] == "" and placeholder["author_name"] is None
    assert reply["id"] == under["id"] and reply["parent_id"] == placeholder["id"]
    assert first["id"] not in ids(body["comments"])


def test_a_reply_id_answers_the_replies_of_its_top_level_comment(api, site, busy):
    root, written = busy
    body = replies(api, written[7]["id"]).json()
    assert body["root_id"] == root["id"]
    assert ids(body["comments"]) == ids(written)
    assert replies(api, root["id"]).json() == body


def test_held_replies_are_neither_shown_nor_counted(api, make_site):
    site = make_site(moderation_mode="pre")
    from townhall.discussions.models import Comment

    root = api.comment(site, "Root").json()["comment"]
    for n in range(5):
        api.comment(site, f"Held {n}", parent_id=root["id"], remote_addr=f"10.0.1.{n}")
    Comment.objects.filter(pk=root["id"]).update(status="visible")
    # Nothing visible changed for readers, so no version moved: read the replies directly.
    body = replies(api, root["id"]).json()
    assert body["comments"] == [] and body["more_replies"] == 0


def test_replies_are_cached_by_version_and_revalidated(api, site, busy):
    root, _written = busy
    first = replies(api, root["id"])
    etag = first.headers["ETag"]
    assert replies(api, root["id"], headers={"If-None-Match": etag}).status_code == 304
    api.comment(site, "One more", parent_id=root["id"])
    again = replies(api, root["id"], headers={"If-None-Match": etag})
    assert again.status_code == 200
    assert again.json()["comments"][-1]["html"] == "<p>One more</p>"


@pytest.mark.parametrize(
    ("which", "params", "status", "code"),
    [
        ("missing", {}, 404, "comment_not_found"),
        ("root", {"cursor": "garbage!"}, 400, "invalid_cursor"),
        ("root", {"limit": 0}, 422, "invalid_request"),
        ("root", {"limit": 1000}, 422, "invalid_request"),
    ],
)
def test_bad_requests_get_clear_errors(api, site, busy, which, params, status, code):
    root, written = busy
    target = {"root": root["id"], "reply": written[0]["id"], "missing": 999_999}[which]
    response = replies(api, target, **params)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


@pytest.mark.parametrize("shown", [0, 1, 10, 20])
def test_a_page_shows_as_many_replies_as_asked(api, site, busy, shown):
    root, written = busy
    [page_root] = api.thread(site, replies=shown).json()["comments"]
    assert ids(flatten(page_root["replies"])) == ids(written[:shown])
    left = max(10 - shown, 0)
    assert page_root.get("more_replies", 0) == left
    assert ("replies_cursor" in page_root) == bool(left and shown)
    if shown == 0:
        # From no cursor at all: every reply.
        assert ids(replies(api, root["id"]).json()["comments"]) == ids(written)


@pytest.mark.parametrize("value", [-1, 1001, "all"])
def test_replies_out_of_range_is_refused(api, site, value):
    response = api.thread(site, replies=value)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"
