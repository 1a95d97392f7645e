"""Moderators' actions: each changes what readers see at once, is audited, and can be undone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from townhall.core.errors import BadRequest, Conflict
from townhall.discussions.models import Comment, CommentStatus
from townhall.moderation import actions
from townhall.moderation.models import AuditAction, AuditEntry, Ban, BanKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def moderator():
    return get_user_model().objects.create_user("mod", password="not-used-here")


def thread_of(api, site) -> dict:
    return api.thread(site).json()


def held(api, site, body: str = "Waiting.", **fields) -> Comment:
    response = api.comment(site, body, **fields)
    assert response.status_code == 202
    return Comment.objects.get(pk=response.json()["comment"]["id"])


@pytest.fixture
def pre(make_site):
    return make_site(slug="pre", moderation_mode="pre")


def test_approving_shows_the_comment_and_counts_it(api, pre, moderator):
    comment = held(api, pre)
    assert thread_of(api, pre)["thread"]["comment_count"] == 0
    entry = actions.do_moderate_comment(moderator, comment, "approve")
    page = thread_of(api, pre)
    assert page["thread"]["comment_count"] == 1
    assert [c["id"] for c in page["comments"]] == [comment.pk]
    assert (entry.action, entry.actor, entry.from_status, entry.to_status) == (
        AuditAction.APPROVE,
        moderator,
        "pending",
        "visible",
    )


def test_rejecting_a_visible_comment_removes_it_at_once(api, site, moderator):
    comment_id = api.comment(site, "Visible for now.").json()["comment"]["id"]
    assert thread_of(api, site)["thread"]["comment_count"] == 1
    actions.do_moderate_comment(moderator, Comment.objects.get(pk=comment_id), "reject")
    page = thread_of(api, site)
    assert page["thread"]["comment_count"] == 0 and page["comments"] == []


def test_a_rejected_comment_with_replies_stays_as_a_placeholder(api, site, moderator):
    root = api.comment(site, "Root.").json()["comment"]["id"]
    api.comment(site, "Reply.", parent_id=root)
    actions.do_moderate_comment(moderator, Comment.objects.get(pk=root), "spam")
    [placeholder] = thread_of(api, site)["comments"]
    assert placeholder["status"] == "spam" and placeholder["html"] == ""
    assert placeholder["author_name"] is None
    assert [r["html"] for r in placeholder["replies"]] == ["<p>Reply.</p>"]


def test_undo_puts_the_comment_back_and_is_audited(api, pre, moderator):
    comment = held(api, pre)
    approval = actions.do_moderate_comment(moderator, comment, "approve")
    undo = actions.do_undo(moderator, approval)
    assert Comment.objects.get(pk=comment.pk).status == CommentStatus.PENDING
    assert thread_of(api, pre)["thread"]["comment_count"] == 0
    assert (undo.action, undo.undoes_id, undo.to_status) == (
        AuditAction.UNDO,
        approval.pk,
        "pending",
    )
    approval.refresh_from_db()
    assert approval.undone
    with pytest.raises(Conflict):
        actions.do_undo(moderator, approval)


def test_undo_refuses_when_the_comment_moved_on(api, pre, moderator):
    comment = held(api, pre)
    approval = actions.do_moderate_comment(moderator, comment, "approve")
    actions.do_moderate_comment(moderator, comment, "reject")
    with pytest.raises(Conflict) as error:
        actions.do_undo(moderator, approval)
    assert error.value.code == "cannot_undo"


def test_a_pipeline_hold_of_an_edit_can_be_undone(api, make_site, moderator):
    site = make_site(suspect_words=["propaganda"])
    posted = api.comment(site, "Fair.").json()
    comment_id = posted["comment"]["id"]
    api.patch(f"/api/v1/comments/{comment_id}", {"body": "propaganda"}, token=posted["edit_token"])
    assert thread_of(api, site)["thread"]["comment_count"] == 0
    actions.do_undo(moderator, AuditEntry.objects.get(action=AuditAction.HOLD))
    assert thread_of(api, site)["comments"][0]["html"] == "<p>propaganda</p>"


def test_a_new_comments_hold_is_let_through_by_approving(api, make_site, moderator):
    site = make_site(suspect_words=["propaganda"])
    held(api, site, "propaganda")
    with pytest.raises(Conflict) as error:
        actions.do_undo(moderator, AuditEntry.objects.get(action=AuditAction.HOLD))
    assert "approving" in error.value.message


def test_bulk_decisions_skip_deleted_comments(api, pre, moderator):
    first = api.comment(pre, "One.").json()
    second = held(api, pre, "Two.")
    api.delete(f"/api/v1/comments/{first['comment']['id']}", token=first["edit_token"])
    comments = list(Comment.objects.order_by("id"))
    entries = actions.do_moderate_comments(moderator, comments, "approve")
    assert [e.comment_id for e in entries] == [second.pk]
    assert thread_of(api, pre)["thread"]["comment_count"] == 1


def test_unknown_decisions_are_refused(api, pre, moderator):
    with pytest.raises(BadRequest):
        actions.do_moderate_comment(moderator, held(api, pre), "delete-everything")


def test_featuring_marks_the_comment_in_the_thread_and_undoes(api, site, moderator):
    comment_id = api.comment(site, "A fine point.").json()["comment"]["id"]
    comment = Comment.objects.get(pk=comment_id)
    entry = actions.do_feature_comment(moderator, comment)
    assert thread_of(api, site)["comments"][0]["featured"] is True
    actions.do_undo(moderator, entry)
    assert thread_of(api, site)["comments"][0]["featured"] is False


def test_only_visible_comments_are_featured(api, pre, moderator):
    with pytest.raises(Conflict):
        actions.do_feature_comment(moderator, held(api, pre))


def test_approving_settles_the_reports(api, make_site, moderator):
    site = make_site(flag_threshold=1)
    comment_id = api.comment(site, "Reported.").json()["comment"]["id"]
    comment = Comment.objects.get(pk=comment_id)
    actions.do_flag_comment(comment, reporter_key="a:x", reason="abuse")
    comment.refresh_from_db()
    assert comment.status == CommentStatus.PENDING and comment.open_flags == 1
    entry = actions.do_moderate_comment(moderator, comment, "approve")
    comment.refresh_from_db()
    assert comment.open_flags == 0 and entry.detail == {"settled_flags": 1}
    assert not comment.flags.filter(resolved=False).exists()


# ---- bans ------------------------------------------------------------------------------------


def test_a_banned_author_cannot_comment_again(api, site, moderator):
    posted = api.comment(site, "Trolling.", author_email="troll@example.com").json()
    comment = Comment.objects.select_related("author", "thread__site").get(
        pk=posted["comment"]["id"]
    )
    bans = actions.do_ban_author(moderator, comment, duration="7d", reason="trolling")
    assert sorted(b.kind for b in bans) == ["client", "commenter", "email"]
    assert Comment.objects.get(pk=comment.pk).status == CommentStatus.REJECTED
    # By token, by email from another address, by address without either: all refused.
    for fields in (
        {"token": posted["edit_token"], "remote_addr": "198.51.100.1"},
        {"author_email": "TROLL@example.com", "remote_addr": "198.51.100.2"},
        {},
    ):
        response = api.comment(site, "Let me back in.", **fields)
        assert response.status_code == 403, fields
        error = response.json()["error"]
        assert error["code"] == "banned"
        assert error["message"].startswith("You can no longer comment on this site until ")
    # Someone else, elsewhere, is not affected.
    assert api.comment(site, "Hello.", remote_addr="198.51.100.3").status_code == 201
    assert AuditEntry.objects.filter(action=AuditAction.BAN).count() == 3


def test_expired_and_lifted_bans_no_longer_hold(api, site, moderator):
    ban = actions.do_ban(moderator, site, kind="email", value="a@example.com")
    assert api.comment(site, "x1", author_email="a@example.com").status_code == 403
    actions.do_lift_ban(moderator, ban)
    assert api.comment(site, "x2", author_email="a@example.com").status_code == 201
    expired = actions.do_ban(moderator, site, kind="email", value="b@example.com", duration="1d")
    Ban.objects.filter(pk=expired.pk).update(expires=timezone.now() - timedelta(seconds=1))
    assert api.comment(site, "x3", author_email="b@example.com").status_code == 201


def test_a_ban_is_per_site(api, site, make_site, moderator):
    other = make_site(slug="other")
    actions.do_ban(moderator, site, kind=BanKind.EMAIL, value="a@example.com")
    assert api.comment(other, "Hi.", author_email="a@example.com").status_code == 201


def test_undoing_a_ban_lifts_it(api, site, moderator):
    ban = actions.do_ban(moderator, site, kind="email", value="a@example.com")
    entry = AuditEntry.objects.get(action=AuditAction.BAN, ban=ban)
    actions.do_undo(moderator, entry)
    assert api.comment(site, "Back.", author_email="a@example.com").status_code == 201


@pytest.mark.parametrize(
    ("kind", "value", "duration"),
    [("ip", "1.2.3.4", "1d"), ("email", "  ", "1d"), ("email", "a@example.com", "1y")],
)
def test_bad_bans_are_refused(site, moderator, kind, value, duration):
    with pytest.raises(BadRequest):
        actions.do_ban(moderator, site, kind=kind, value=value, duration=duration)
    assert not Ban.objects.exists()


def test_the_audit_log_names_who_and_when(api, pre, moderator):
    comment = held(api, pre)
    before = timezone.now()
    actions.do_moderate_comment(moderator, comment, "reject")
    log = list(AuditEntry.objects.filter(site=pre))
    assert [(e.action, e.actor) for e in log] == [
        (AuditAction.REJECT, moderator),
        (AuditAction.HOLD, None),
    ]
    assert log[0].created >= before
