"""Comments on a passage of the article: W3C Web Annotation selectors in, the same out."""

from __future__ import annotations

import pytest

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
