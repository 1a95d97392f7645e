"""Moderators hear by email when comments wait in their queue."""

from __future__ import annotations

import pytest

from tests.notifications.conftest import post, run_worker

pytestmark = pytest.mark.django_db(transaction=True)

MODERATOR = "desk@news.example"


def test_a_held_comment_alerts_the_moderators_once_for_a_burst(api, make_site, mailbox):
    site = make_site(moderation_mode="pre", moderator_emails=[MODERATOR])
    post(api, site, "Please check me")
    run_worker()
    [alert] = mailbox.to(MODERATOR)
    assert "1 comment waits for moderation" in alert.subject
    assert f"/moderate/{site.slug}/" in alert.text
    assert "Please check me" not in alert.text  # no reader content leaves in the alert

    post(api, site, "And me")
    run_worker()
    assert len(mailbox.to(MODERATOR)) == 1  # coalesced: one alert per ten minutes


def test_visible_comments_and_sites_without_moderators_send_no_alert(api, make_site, mailbox):
    post(api, make_site(moderation_mode="post", moderator_emails=[MODERATOR]), "Visible at once")
    post(api, make_site(moderation_mode="pre"), "Held, but nobody to tell")
    run_worker()
    assert len(mailbox) == 0


def test_createsite_refuses_a_bad_moderator_address(make_site):
    from townhall.core.errors import BadRequest

    with pytest.raises(BadRequest, match="not an email address"):
        make_site(moderator_emails=["not-an-address"])
