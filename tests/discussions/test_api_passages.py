"""Comments on a passage of the article: W3C Web Annotation selectors in, the same out."""

from __future__ import annotations

import pytest

from tests.conftest import ARTICLE
from townhall.discussions.models import Comment

pytestmark = pytest.mark.django_db

PASSAGE = {
    "id": "incirlik-offer",
    "quote": {
        "type": "TextQuoteSelector",
        "exact": "Ankara has opened the Incirlik airbase",
        "prefix": "“",
        "suffix": " to all those wishing to join",
    },
    "position": {"type": "TextPositionSelector", "start": 181, "end": 219},
}


def test_a_passage_comment_keeps_its_selectors(api, site):
    response = api.comment(site, "About this sentence", passage=PASSAGE)
    assert response.status_code == 201
    assert response.json()["comment"]["passage"] == PASSAGE
    [shown] = api.thread(site).json()["comments"]
    assert shown["passage"] == PASSAGE
    assert Comment.objects.get().passage == PASSAGE


def test_reader_selected_passages_need_no_id(api, site):
    passage = {key: value for key, value in PASSAGE.items() if key != "id"}
    response = api.comment(site, "About my selection", passage=passage)
    assert response.status_code == 201
    assert response.json()["comment"]["passage"] == {"id": None, **passage}
    assert api.thread(site).json()["comments"][0]["passage"] == {"id": None, **passage}


def test_ordinary_comments_have_no_passage(api, site):
    api.comment(site, "Plain")
    assert api.thread(site).json()["comments"][0]["passage"] is None


def test_a_reply_cannot_carry_a_passage(api, site):
    root = api.comment(site, "Root", passage=PASSAGE).json()["comment"]
    response = api.comment(site, "Reply", parent_id=root["id"], passage=PASSAGE)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "passage_on_reply"
    assert Comment.objects.count() == 1


@pytest.mark.parametrize(
    "change",
    [
        {"position": {"start": 10, "end": 10}},
        {"position": {"start": -1, "end": 5}},
        {"quote": {"exact": ""}},
        {"quote": {"exact": "x", "prefix": "p" * 33}},
        {"id": "not a valid id!"},
        {"quote": None},
    ],
)
def test_malformed_passages_are_refused(api, site, change):
    passage = {**PASSAGE, **change}
    response = api.comment(site, "Bad passage", passage=passage)
    assert response.status_code == 422
    assert response.json()["error"]["field"].startswith("passage")
    assert Comment.objects.count() == 0


def test_a_deleted_passage_comment_keeps_its_passage_for_its_replies(api, site):
    posted = api.comment(site, "Root", passage=PASSAGE).json()
    api.comment(site, "Reply", parent_id=posted["comment"]["id"])
    api.delete(f"/api/v1/comments/{posted['comment']['id']}", token=posted["edit_token"])
    [placeholder] = api.thread(site).json()["comments"]
    assert placeholder["status"] == "deleted" and placeholder["passage"] == PASSAGE


def passages(api, site, **params):
    params.setdefault("url", ARTICLE)
    return api.get("/api/v1/threads/passages", site=site.slug, **params)


def test_only_passages_pages_hold_passage_comments_alone(api, site):
    api.comment(site, "Plain one")
    on_passage = api.comment(site, "On the passage", passage=PASSAGE).json()["comment"]
    api.comment(site, "Plain two")
    page = api.thread(site, only="passages").json()
    assert [c["id"] for c in page["comments"]] == [on_passage["id"]]
    assert page["thread"]["comment_count"] == 3  # the thread's count, not the view's
    assert len(api.thread(site).json()["comments"]) == 3


def test_only_passages_pages_follow_their_cursor(api, site):
    ids = [api.comment(site, f"P{n}", passage=PASSAGE).json()["comment"]["id"] for n in range(3)]
    api.comment(site, "Plain")
    first = api.thread(site, only="passages", limit=2).json()
    second = api.thread(site, only="passages", limit=2, cursor=first["next_cursor"]).json()
    assert [c["id"] for c in first["comments"] + second["comments"]] == ids[::-1]
    assert second["next_cursor"] is None


def test_an_unknown_only_value_is_refused(api, site):
    response = api.thread(site, only="everything")
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "only"


def test_the_passages_list_has_every_visible_passage_comment(api, site):
    assert passages(api, site).json() == {"thread_id": None, "passages": []}
    first = api.comment(site, "First **note**", passage=PASSAGE).json()
    api.comment(site, "Plain")
    api.comment(site, "A reply", parent_id=first["comment"]["id"])
    second = api.comment(site, "Second", passage={**PASSAGE, "id": None}).json()
    gone = api.comment(site, "Deleted", passage=PASSAGE).json()
    api.delete(f"/api/v1/comments/{gone['comment']['id']}", token=gone["edit_token"])
    body = passages(api, site).json()
    assert body["thread_id"] == Comment.objects.get(pk=first["comment"]["id"]).thread_id
    assert [p["id"] for p in body["passages"]] == [
        second["comment"]["id"],
        first["comment"]["id"],
    ]
    listed = body["passages"][1]
    assert listed["passage"] == PASSAGE
    assert listed["html"] == "<p>First <strong>note</strong></p>"
    assert listed["author_name"] == first["comment"]["author_name"]


def test_the_passages_list_leaves_out_comments_awaiting_moderation(api, make_site):
    held = make_site(slug="held", moderation_mode="pre")
    response = api.comment(held, "Wait", passage=PASSAGE)
    assert response.status_code == 202
    assert passages(api, held).json()["passages"] == []


def test_the_passages_list_is_revalidated_by_etag_and_follows_writes(api, site):
    api.comment(site, "One", passage=PASSAGE)
    first = passages(api, site)
    assert first["Cache-Control"].startswith("public, max-age=0")
    again = passages(api, site, headers={"If-None-Match": first["ETag"]})
    assert again.status_code == 304
    api.comment(site, "Two", passage=PASSAGE)
    changed = passages(api, site, headers={"If-None-Match": first["ETag"]})
    assert changed.status_code == 200 and len(changed.json()["passages"]) == 2


def test_the_passages_list_errors(api, site):
    assert passages(api, site, url="not a url").status_code == 400
    response = api.get("/api/v1/threads/passages", site="nope", url=ARTICLE)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_site"


def test_the_server_rendered_thread_quotes_the_passage(api, site):
    api.comment(
        site,
        "About <this>",
        passage={**PASSAGE, "quote": {**PASSAGE["quote"], "exact": "a <b> quote"}},
    )
    html = api.get("/api/v1/threads/html", site=site.slug, url=ARTICLE).content.decode()
    assert '<blockquote class="townhall-comment__quote"' in html
    assert "a &lt;b&gt; quote" in html and "<b>" not in html
