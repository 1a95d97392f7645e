"""Readers reporting comments (`POST /api/v1/comments/{id}/flag`), and editors' picks as
readers see them in the thread JSON and the server-rendered HTML."""

from __future__ import annotations

import pytest

from tests.conftest import ARTICLE
from tests.discussions.test_thread_html import parse
from townhall.discussions.models import Comment, CommentStatus
from townhall.moderation.actions import do_feature_comment
from townhall.moderation.models import AuditAction, AuditEntry, Flag

pytestmark = pytest.mark.django_db


def flag_path(comment_id: int) -> str:
    return f"/api/v1/comments/{comment_id}/flag"


def report(api, comment_id: int, reason: str = "spam", **kwargs):
    note = kwargs.pop("note", "")
    return api.post(flag_path(comment_id), {"reason": reason, "note": note}, **kwargs)


def posted(api, site, body: str | None = None) -> tuple[int, str]:
    """A visible comment's id and its author's edit token."""
    response = api.comment(site, body)
    assert response.status_code == 201, response.content
    result = response.json()
    return result["comment"]["id"], result["edit_token"]


@pytest.fixture
def comment_id(api, site) -> int:
    return posted(api, site, "Worth a report?")[0]


def test_a_report_is_accepted_and_recorded(api, comment_id):
    response = report(api, comment_id, "abuse", note="  Insults the author.  ")
    assert response.status_code == 202
    assert response.json() == {"reported": True}
    flag = Flag.objects.get()
    assert (flag.comment_id, flag.reason, flag.note, flag.resolved) == (
        comment_id,
        "abuse",
        "Insults the author.",
        False,
    )
    assert Comment.objects.get(pk=comment_id).open_flags == 1


def test_the_note_is_optional(api, comment_id):
    response = api.post(flag_path(comment_id), {"reason": "off_topic"})
    assert response.status_code == 202
    assert Flag.objects.get().note == ""


def test_a_second_report_by_the_same_reader_changes_nothing(api, site, comment_id):
    _, token = posted(api, site)
    for reason in ("spam", "other"):
        assert report(api, comment_id, reason, remote_addr="10.0.0.1").json() == {"reported": True}
        assert report(api, comment_id, reason, token=token).json() == {"reported": True}
    assert sorted(Flag.objects.values_list("reason", flat=True)) == ["spam", "spam"]
    assert Comment.objects.get(pk=comment_id).open_flags == 2


def test_a_token_and_an_address_are_different_readers(api, site, comment_id):
    _, first = posted(api, site)
    _, second = posted(api, site)
    # One address: by itself, and as two commenters with their tokens.
    report(api, comment_id, remote_addr="10.0.0.1")
    report(api, comment_id, token=first, remote_addr="10.0.0.1")
    report(api, comment_id, token=second, remote_addr="10.0.0.1")
    # One commenter from another address is still the same reader.
    report(api, comment_id, token=first, remote_addr="10.0.0.2")
    keys = list(Flag.objects.values_list("reporter_key", flat=True))
    assert len(keys) == len(set(keys)) == 3
    assert sorted(key[:2] for key in keys) == ["a:", "c:", "c:"]
    assert all("10.0.0.1" not in key for key in keys)


def test_reports_reaching_the_threshold_take_the_comment_out_of_the_thread(api, make_site):
    site = make_site(flag_threshold=2)
    keep, _ = posted(api, site, "Stays.")
    reported, _ = posted(api, site, "Goes to the queue.")
    assert api.thread(site).json()["thread"]["comment_count"] == 2

    report(api, reported, remote_addr="10.0.0.1")
    assert Comment.objects.get(pk=reported).status == CommentStatus.VISIBLE
    assert not AuditEntry.objects.exists()
    report(api, reported, "abuse", remote_addr="10.0.0.2")

    comment = Comment.objects.get(pk=reported)
    assert (comment.status, comment.open_flags) == (CommentStatus.PENDING, 2)
    page = api.thread(site).json()
    assert page["thread"]["comment_count"] == 1
    assert [c["id"] for c in page["comments"]] == [keep]
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor, entry.comment_id) == (AuditAction.HOLD, None, reported)
    assert (entry.from_status, entry.to_status) == ("visible", "pending")
    assert [reason["rule"] for reason in comment.moderation["reasons"]] == ["flags"]
    # Held, it is no longer there to report.
    late = report(api, reported, remote_addr="10.0.0.3")
    assert late.status_code == 404
    assert Flag.objects.count() == 2


@pytest.mark.parametrize(
    "body",
    [
        {"reason": "boring"},
        {"reason": ""},
        {},
        {"reason": "spam", "note": "x" * 501},
        {"reason": ["spam"]},
    ],
)
def test_a_bad_report_is_a_422(api, comment_id, body):
    response = api.post(flag_path(comment_id), body)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"
    assert not Flag.objects.exists()


def test_an_unknown_comment_is_a_404(api, comment_id):
    response = report(api, comment_id + 1000)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "comment_not_found"


@pytest.mark.parametrize("status", ["pending", "deleted", "rejected", "spam"])
def test_a_comment_readers_cannot_see_is_a_404(api, comment_id, status):
    Comment.objects.filter(pk=comment_id).update(status=status)
    response = report(api, comment_id)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "comment_not_found"
    assert not Flag.objects.exists()


def test_a_foreign_page_may_not_report(api, comment_id):
    response = report(api, comment_id, origin="https://evil.example")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "origin_not_allowed"
    assert not Flag.objects.exists()


def test_reports_are_rate_limited_per_address(api, site, comment_id):
    for n in range(10):
        # Repeats count too: the limit is on requests, not on reports recorded.
        assert report(api, comment_id).status_code == 202, n
    limited = report(api, comment_id)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert report(api, comment_id, remote_addr="10.0.0.9").status_code == 202
    assert Flag.objects.count() == 2


def feature(comment_id: int, featured: bool, on_commit) -> None:
    with on_commit(execute=True):  # as a moderator's request would commit it
        do_feature_comment(None, Comment.objects.get(pk=comment_id), featured)


def test_an_editors_pick_is_marked_in_the_thread(
    api, site, comment_id, django_capture_on_commit_callbacks
):
    other, _ = posted(api, site, "Not picked.")
    page = api.thread(site).json()  # cached now: featuring must show at once all the same
    assert {c["id"]: c["featured"] for c in page["comments"]} == {comment_id: False, other: False}

    feature(comment_id, True, django_capture_on_commit_callbacks)

    page = api.thread(site).json()
    assert {c["id"]: c["featured"] for c in page["comments"]} == {comment_id: True, other: False}
    document = parse(api.get("/api/v1/threads/html", site=site.slug, url=ARTICLE).content)
    picks = {
        article.attrs["data-townhall-comment"]: [
            span.text() for span in article.find_all("span", **{"class": "townhall-comment__pick"})
        ]
        for article in document.find_all("article")
    }
    assert picks == {str(comment_id): ["Editor's pick"], str(other): []}
    [marker] = document.find_all("span", **{"class": "townhall-comment__pick"})
    assert marker.parent is not None and marker.parent.tag == "header"

    feature(comment_id, False, django_capture_on_commit_callbacks)
    assert not any(c["featured"] for c in api.thread(site).json()["comments"])
