from __future__ import annotations

import base64
import json

import pytest

from tests.conftest import ARTICLE, ORIGIN
from townhall.discussions.models import Comment, Thread
from townhall.sites.actions import do_set_sign_in
from townhall.sites.models import Site

pytestmark = pytest.mark.django_db


def ids(comments: list[dict]) -> list[int]:
    return [c["id"] for c in comments]


def test_article_without_comments_has_an_empty_page(api, site):
    response = api.thread(site)
    assert response.status_code == 200
    body = response.json()
    assert body["thread"] == {
        "id": None,
        "url": ARTICLE,
        "title": "",
        "comment_count": 0,
        "is_open": True,
        "live_event_id": 0,
        "signin": {
            "guest": True,
            "email": False,
            "sso": False,
            "guest_requires": [],
            "deletion": "placeholder",
        },
    }
    assert body["comments"] == [] and body["next_cursor"] is None


def test_thread_nests_replies_oldest_first(api, site):
    root = api.comment(site, "Root", title="Incirlik").json()["comment"]
    first = api.comment(site, "First reply", parent_id=root["id"]).json()["comment"]
    second = api.comment(site, "Second reply", parent_id=root["id"]).json()["comment"]
    nested = api.comment(site, "Reply to first", parent_id=first["id"]).json()["comment"]

    body = api.thread(site).json()
    assert body["thread"]["title"] == "Incirlik"
    assert body["thread"]["comment_count"] == 4
    [shown] = body["comments"]
    assert shown["id"] == root["id"]
    assert ids(shown["replies"]) == [first["id"], second["id"]]
    assert ids(shown["replies"][0]["replies"]) == [nested["id"]]
    assert shown["replies"][0]["replies"][0]["parent_id"] == first["id"]
    for field in (
        "id",
        "parent_id",
        "author_name",
        "html",
        "created",
        "upvotes",
        "downvotes",
        "score",
        "status",
    ):
        assert field in shown


def test_same_article_under_another_url_form_finds_the_same_thread(api, site):
    api.comment(site, "Hello", url=f"{ORIGIN}/a/?b=2&utm_source=x&a=1#comments")
    body = api.thread(site, url="https://NEWS.example:443/a/?a=1&b=2").json()
    assert body["thread"]["comment_count"] == 1


@pytest.mark.parametrize("sort", ["newest", "oldest", "most_voted"])
def test_sorts_page_through_every_root_once(api, site, sort):
    posted = [api.comment(site, f"Comment {n}").json()["comment"]["id"] for n in range(7)]
    for n, comment_id in enumerate(posted[:4]):
        for voter in range(n):
            voted = api.post(
                f"/api/v1/comments/{comment_id}/vote", {"value": 1}, remote_addr=f"10.0.0.{voter}"
            )
            assert voted.json()["upvotes"] == voter + 1
    seen: list[int] = []
    cursor = None
    while True:
        params = {"sort": sort, "limit": 3}
        if cursor:
            params["cursor"] = cursor
        body = api.thread(site, **params).json()
        seen += ids(body["comments"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(posted)
    expected = {
        "newest": list(reversed(posted)),
        "oldest": posted,
        "most_voted": [posted[3], posted[2], posted[1], *reversed(posted[4:]), posted[0]],
        # (scores 3, 2, 1, then the unvoted newest first)
    }[sort]
    assert seen == expected


def test_deleted_comment_with_replies_stays_as_placeholder(api, site):
    posted = api.comment(site, "Parent").json()
    api.comment(site, "Child", parent_id=posted["comment"]["id"])
    api.delete(f"/api/v1/comments/{posted['comment']['id']}", token=posted["edit_token"])

    body = api.thread(site).json()
    [placeholder] = body["comments"]
    assert placeholder["status"] == "deleted"
    assert placeholder["html"] == "" and placeholder["author_name"] is None
    assert [r["html"] for r in placeholder["replies"]] == ["<p>Child</p>"]
    assert body["thread"]["comment_count"] == 1


def test_deleted_comment_without_replies_disappears(api, site):
    posted = api.comment(site, "Gone soon").json()
    api.delete(f"/api/v1/comments/{posted['comment']['id']}", token=posted["edit_token"])
    assert api.thread(site).json()["comments"] == []


def test_replies_past_max_depth_attach_at_the_last_level(api, make_site):
    site = make_site(max_depth=2)
    parent_id = None
    chain = []
    for n in range(5):
        comment = api.comment(site, f"Level {n}", parent_id=parent_id).json()["comment"]
        chain.append(comment)
        parent_id = comment["id"]
    assert [c["depth"] for c in chain] == [0, 1, 2, 2, 2]
    root = api.thread(site).json()["comments"][0]
    level2 = root["replies"][0]["replies"]
    # The page holds the root's first three replies; the fourth comes with the rest.
    assert ids(level2) == [chain[2]["id"], chain[3]["id"]]
    assert level2[1]["parent_id"] == chain[2]["id"]  # the real parent is kept
    assert all(c["replies"] == [] for c in level2)
    assert root["more_replies"] == 1
    rest = api.get(f"/api/v1/comments/{root['id']}/replies", cursor=root["replies_cursor"]).json()[
        "comments"
    ]
    assert [(c["id"], c["parent_id"], c["depth"]) for c in rest] == [
        (chain[4]["id"], chain[3]["id"], 2)
    ]


def test_pending_comments_are_not_shown(api, make_site):
    site = make_site(moderation_mode="pre")
    assert api.comment(site, "Waiting").status_code == 202
    body = api.thread(site).json()
    assert body["comments"] == [] and body["thread"]["comment_count"] == 0


def test_etag_gives_304_until_the_thread_changes(api, site):
    api.comment(site, "First")
    first = api.thread(site)
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert "s-maxage" in first.headers["Cache-Control"]
    # Browsers honour stale-while-revalidate too: only CDNs get it, or a reader who just posted
    # could be shown the page from before.
    assert "stale-while-revalidate" not in first.headers["Cache-Control"]
    assert "must-revalidate" in first.headers["Cache-Control"]
    assert "stale-while-revalidate" in first.headers["CDN-Cache-Control"]

    again = api.thread(site, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["ETag"] == etag

    api.comment(site, "Second")
    changed = api.thread(site, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag


def test_vote_changes_the_etag(api, site):
    comment = api.comment(site, "Vote on me").json()["comment"]
    etag = api.thread(site).headers["ETag"]
    api.post(f"/api/v1/comments/{comment['id']}/vote", {"value": 1})
    response = api.thread(site, headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert response.json()["comments"][0]["upvotes"] == 1


def _grow(site, roots: int, replies_each: int) -> None:
    for _ in range(roots):
        root = api_post(site, None)
        for _ in range(replies_each):
            api_post(site, root)


def api_post(site, parent_id):
    from townhall.discussions.actions import do_post_comment

    return do_post_comment(site, url=ARTICLE, body="text", parent_id=parent_id).comment.pk


@pytest.mark.parametrize("roots", [5, 60])
def test_read_cost_does_not_grow_with_the_thread(api, site, roots, django_assert_num_queries):
    _grow(site, roots=roots, replies_each=5)
    # Cold: the site, the thread, its latest live event, one page of roots, their replies.
    with django_assert_num_queries(5):
        body = api.thread(site, limit=5).json()
    assert len(body["comments"]) == 5
    assert all(len(c["replies"]) == 3 for c in body["comments"])
    assert all(c["more_replies"] == 2 for c in body["comments"])
    # Warm: the site and the thread's version; the page itself comes from the cache.
    with django_assert_num_queries(2):
        assert api.thread(site, limit=5).json() == body


def test_cached_page_is_not_served_after_a_change(api, site):
    api.comment(site, "One")
    assert api.thread(site).json()["thread"]["comment_count"] == 1
    api.comment(site, "Two")
    assert api.thread(site).json()["thread"]["comment_count"] == 2


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"site": "nope", "url": ARTICLE}, 404, "unknown_site"),
        ({"site": "news", "url": "not a url"}, 400, "invalid_url"),
        ({"site": "news", "url": "ftp://news.example/a"}, 400, "invalid_url"),
        ({"site": "news", "url": "javascript:alert(1)"}, 400, "invalid_url"),
        ({"site": "news", "url": ARTICLE, "limit": 0}, 422, "invalid_request"),
        ({"site": "news", "url": ARTICLE, "limit": 1000}, 422, "invalid_request"),
        ({"site": "news", "url": ARTICLE, "sort": "hottest"}, 422, "invalid_request"),
        ({"site": "news", "url": ARTICLE, "cursor": "garbage!"}, 400, "invalid_cursor"),
        ({"site": "news", "url": ARTICLE, "cursor": "WzEsMl0"}, 400, "invalid_cursor"),
        ({"site": "news"}, 422, "invalid_request"),
    ],
)
def test_bad_thread_requests_get_a_clear_4xx(api, site, params, status, code):
    response = api.get("/api/v1/threads", **params)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]


def test_html_is_rendered_once_at_write_time(api, site):
    comment = api.comment(site, "Some *emphasis* <script>alert(1)</script>").json()["comment"]
    stored = Comment.objects.get(pk=comment["id"])
    assert stored.body_html == comment["html"]
    assert "<em>emphasis</em>" in stored.body_html and "<script" not in stored.body_html


def test_a_supporters_comments_carry_the_badge_and_nothing_else_does(api, site):
    from tests.conftest import _forget_everything_cached

    root = api.comment(site, "By a supporter").json()["comment"]
    reply = api.comment(site, "Not by one", parent_id=root["id"]).json()["comment"]
    assert "supporter" not in api.thread(site).json()["comments"][0]
    # What townhall.support does for a reader who asked for the badge (with a version bump).
    Comment.objects.filter(pk=root["id"]).update(supporter=True)
    _forget_everything_cached()
    [shown] = api.thread(site).json()["comments"]
    assert shown["supporter"] is True
    assert shown["replies"][0]["id"] == reply["id"] and "supporter" not in shown["replies"][0]


def test_the_page_says_how_readers_may_comment(api, site):
    Site.objects.filter(pk=site.pk).update(
        signin_email=True, signin_sso=True, guest_requires_email=True, deletion_policy="anonymize"
    )
    site.refresh_from_db()
    api.comment(site, "Hello", author_email="reader@example.test")
    assert api.thread(site).json()["thread"]["signin"] == {
        "guest": True,
        "email": True,
        "sso": True,
        "guest_requires": ["email"],
        "deletion": "anonymize",
    }


def test_a_change_of_how_readers_comment_reaches_pages_cached_before(api, site, make_site):
    other = make_site(slug="elsewhere")
    api.comment(site, "Cached with the old settings")
    api.comment(other, "Another site's thread")
    first = api.thread(site)
    assert first.json()["thread"]["signin"]["guest_requires"] == []
    untouched = api.thread(other).json()["thread"]["id"]
    other_version = Thread.objects.get(pk=untouched).version

    do_set_sign_in(site, guest_requires=["email"], methods=["email"])
    again = api.thread(site, headers={"If-None-Match": first["ETag"]})
    assert again.status_code == 200
    signin = again.json()["thread"]["signin"]
    assert signin["guest_requires"] == ["email"] and signin["guest"] is False
    # Other sites' threads keep their versions; a change that readers never see renews nothing.
    assert Thread.objects.get(pk=untouched).version == other_version
    version = Thread.objects.get(site=site).version
    do_set_sign_in(site, sso_trust_email=False)
    assert Thread.objects.get(site=site).version == version


def _cursor(values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("sort", "values"),
    [
        ("newest", ["2024-05-01T10:00:00", 1]),  # no time zone
        ("newest", ["2024-05-01T10:00:00+00:00", 2**70]),  # beyond any id column
        ("newest", ["2024-05-01T10:00:00+00:00", 2**63]),  # parses, but no bigint holds it
        ("newest", ["2024-05-01T10:00:00+00:00", -(2**70)]),
        ("oldest", ["0001-01-01T00:00:00+14:00", 1]),  # before the first representable instant
        ("oldest", ["9999-12-31T23:59:59-14:00", 1]),  # after the last one
        ("newest", ["2024-05-01T10:00:00+00:00", 1.5]),
        ("newest", ["2024-05-01T10:00:00+00:00", True]),
        ("newest", [20240501, 1]),
        ("newest", {"created": "2024-05-01T10:00:00+00:00", "id": 1}),
        ("most_voted", [2**70, "2024-05-01T10:00:00+00:00", 1]),
        ("most_voted", [-(2**63) - 1, "2024-05-01T10:00:00+00:00", 1]),
        ("most_voted", [1, "2024-05-01T10:00:00+00:00", 1, 4]),
    ],
)
def test_a_hand_made_cursor_is_a_400_not_a_500(api, site, sort, values):
    api.comment(site, "One comment to page past")
    response = api.get(
        "/api/v1/threads", site="news", url=ARTICLE, sort=sort, cursor=_cursor(values)
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid_cursor"


def test_a_cursor_at_the_edges_of_time_pages_on(api, site):
    """Odd but valid positions are positions: nothing is newer than the year 9999."""
    api.comment(site, "One comment to page past")
    latest = _cursor(["9999-12-31T23:59:59+00:00", 2**63 - 1])
    response = api.get("/api/v1/threads", site="news", url=ARTICLE, sort="newest", cursor=latest)
    assert response.status_code == 200
    assert ids(response.json()["comments"]) != []
