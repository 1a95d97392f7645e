"""Who is told about a new comment: "thread" and "replies" subscribers, the comment form's
"notify me of replies", never the author, and nothing while a comment waits for moderation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.notifications.conftest import (
    OTHER_ARTICLE,
    confirm_by_link,
    post,
    run_worker,
    subscribe,
    subscribe_confirmed,
    time_passes,
)
from townhall.discussions.models import Comment
from townhall.moderation.actions import do_moderate_comment

pytestmark = pytest.mark.django_db(transaction=True)

FOLLOWER = "follower@example.com"  # kind "thread"
AUTHOR = "author@example.com"  # kind "replies"


def bodies(mails) -> list[str]:
    return [mail.text for mail in mails]


def test_thread_and_replies_subscribers(api, site, mailbox):
    mine = post(api, site, "My own comment.", author_name="Ann", author_email=AUTHOR)
    post(api, site, "Mine elsewhere.", url=OTHER_ARTICLE, author_email=AUTHOR)
    subscribe_confirmed(api, mailbox, site, FOLLOWER)
    subscribe_confirmed(api, mailbox, site, AUTHOR, kind="replies")
    mailbox.clear()

    top = post(api, site, "A new top-level comment.")
    run_worker()
    assert len(mailbox.to(FOLLOWER)) == 1
    assert mailbox.to(AUTHOR) == []

    reply = post(api, site, "A direct reply to Ann.", parent_id=mine["id"])
    run_worker()
    [to_author] = mailbox.to(AUTHOR)
    assert "A direct reply to Ann." in to_author.text
    assert "replied to you" in to_author.subject
    assert len(mailbox.to(FOLLOWER)) == 2

    # Anywhere beneath the subscriber's comment, however deep.
    post(api, site, "A reply to the reply.", parent_id=reply["id"])
    run_worker()
    assert "A reply to the reply." in mailbox.to(AUTHOR)[-1].text
    assert len(mailbox.to(AUTHOR)) == 2
    assert len(mailbox.to(FOLLOWER)) == 3

    # Replies to somebody else's comment: the thread follower only.
    post(api, site, "A reply to someone else.", parent_id=top["id"])
    run_worker()
    assert len(mailbox.to(AUTHOR)) == 2
    assert "A reply to someone else." in mailbox.to(FOLLOWER)[-1].text

    # Replies beneath the subscriber's comment on an article they do not follow: nothing.
    [elsewhere] = api.thread(site, url=OTHER_ARTICLE).json()["comments"]
    post(api, site, "Reply on the other article.", url=OTHER_ARTICLE, parent_id=elsewhere["id"])
    run_worker()
    assert len(mailbox.to(AUTHOR)) == 2
    assert len(mailbox.to(FOLLOWER)) == 4  # the follower follows the first article only
    assert len(mailbox) == 6


def test_notify_replies_on_the_comment_form(api, site, mailbox):
    other = post(api, site, "Someone's comment.")
    mine = post(
        api,
        site,
        "Tell me about replies.",
        author_name="Nia",
        author_email="Nia@Example.com",
        notify_replies=True,
    )
    run_worker()
    [confirmation] = mailbox.mails
    assert confirmation.recipients == ["nia@example.com"]
    assert "Confirm" in confirmation.subject

    # Not before the address is confirmed.
    post(api, site, "An early reply.", parent_id=mine["id"])
    run_worker()
    assert len(mailbox) == 1

    confirm_by_link(mailbox, "nia@example.com")
    reply = post(api, site, "A reply to Nia.", parent_id=mine["id"])
    post(api, site, "A reply beneath that.", parent_id=reply["id"])
    post(api, site, "A reply to someone else.", parent_id=other["id"])
    post(api, site, "A new top-level comment.")
    run_worker()
    mails = mailbox.to("nia@example.com")[1:]
    assert len(mails) == 2, bodies(mails)
    assert "A reply to Nia." in mails[0].text
    assert "A reply beneath that." in mails[1].text


def test_never_the_author(api, site, mailbox):
    subscribe_confirmed(api, mailbox, site, FOLLOWER)
    subscribe_confirmed(api, mailbox, site, "other@example.com")
    mailbox.clear()

    # Under any case of the address, and when posting again with the commenter's token.
    response = api.comment(
        site, "The follower writes.", author_name="Fay", author_email="Follower@Example.COM"
    )
    assert response.status_code == 201
    run_worker()
    assert mailbox.to(FOLLOWER) == []
    assert len(mailbox.to("other@example.com")) == 1

    again = api.comment(site, "And again, with the token.", token=response.json()["edit_token"])
    assert again.status_code == 201
    run_worker()
    assert mailbox.to(FOLLOWER) == []
    assert len(mailbox.to("other@example.com")) == 2


def test_never_the_author_of_a_reply_beneath_their_own_comment(api, site, mailbox):
    mine = post(api, site, "Mine.", author_email=AUTHOR)
    subscribe_confirmed(api, mailbox, site, AUTHOR, kind="replies")
    mailbox.clear()
    reply = post(api, site, "Someone answers.", parent_id=mine["id"])
    post(api, site, "I answer back.", parent_id=reply["id"], author_email=AUTHOR)
    run_worker()
    [mail] = mailbox.to(AUTHOR)
    assert "Someone answers." in mail.text


def test_pending_comments_send_nothing_until_they_are_published(api, make_site, mailbox):
    site = make_site(slug="strict", moderation_mode="pre")
    subscribe_confirmed(api, mailbox, site, FOLLOWER)
    mailbox.clear()

    response = api.comment(site, "Waiting for a moderator.", author_name="Pat")
    assert response.status_code == 202
    comment_id = response.json()["comment"]["id"]
    run_worker()
    assert mailbox.mails == []

    # A moderator approves it: visible, and announced once the decision commits.
    do_moderate_comment(None, Comment.objects.get(pk=comment_id), "approve")
    run_worker()
    [mail] = mailbox.to(FOLLOWER)
    assert "Waiting for a moderator." in mail.text
    assert f"#comment-{comment_id}" in mail.text


def test_unconfirmed_subscribers_of_a_thread_get_nothing(api, site, mailbox):
    assert subscribe(api, site, "later@example.com").status_code == 202
    post(api, site, "One.")
    post(api, site, "Two.")
    run_worker()
    [confirmation] = mailbox.mails
    assert "Confirm" in confirmation.subject


def test_a_comment_deleted_before_it_is_mailed_is_not_mailed(api, site, mailbox):
    subscribe_confirmed(api, mailbox, site, FOLLOWER)
    subscribe_confirmed(api, mailbox, site, "hourly@example.com", frequency="hourly")
    mailbox.clear()
    posted = api.comment(site, "Oops, I take it back.", author_name="Pat")
    assert posted.status_code == 201
    comment_id = posted.json()["comment"]["id"]
    token = posted.json()["edit_token"]
    post(api, site, "This one stays.")
    run_worker()
    assert len(mailbox.to(FOLLOWER)) == 2  # sent at once, before the deletion

    # Deleted while it waits for the hourly digest: the digest leaves it out.
    assert api.delete(f"/api/v1/comments/{comment_id}", token=token).status_code == 204
    time_passes(timedelta(hours=1, minutes=1))
    run_worker()
    [digest] = mailbox.to("hourly@example.com")
    assert digest.subject == f"1 new comment on {site.name}"
    assert "This one stays." in digest.text
    assert "Oops" not in digest.text
    assert "Pat" not in digest.text
