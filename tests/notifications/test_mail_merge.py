"""One comment's notification is rendered once and copied per recipient: each copy must still
be that recipient's own (address, links, Message-ID)."""

from __future__ import annotations

import pytest

from tests.conftest import ARTICLE
from tests.notifications.conftest import confirmed_subscribers, post, run_worker
from townhall.discussions.actions import do_open_thread
from townhall.notifications import emails
from townhall.notifications.models import Subscription

pytestmark = pytest.mark.django_db(transaction=True)

READERS = ["ada@example.com", "grace@example.com", "linus@example.com"]


def test_each_copy_is_the_recipients_own(api, client, site, mailbox, monkeypatch):
    copies_made: list[bytes | None] = []
    original = emails.MergedNotification.for_recipient

    def spy(self, subscriber):
        copies_made.append(original(self, subscriber))
        return copies_made[-1]

    monkeypatch.setattr(emails.MergedNotification, "for_recipient", spy)
    confirmed_subscribers(site, do_open_thread(site, url=ARTICLE), READERS)
    post(api, site, "One comment, three readers")
    run_worker()
    assert len(copies_made) == 3 and all(copies_made)  # the merged path, not the fallback

    mails = {address: mailbox.to(address) for address in READERS}
    assert all(len(found) == 1 for found in mails.values())
    copies = {address: found[0] for address, found in mails.items()}
    assert len({str(mail.message["Message-ID"]) for mail in copies.values()}) == 3
    for address, mail in copies.items():
        assert str(mail.message["To"]) == address
        assert "One comment, three readers" in mail.text and "One comment" in mail.html
        unsubscribe = mail.link("unsubscribe")
        assert unsubscribe in str(mail.message["List-Unsubscribe"])
        assert unsubscribe in mail.html
    assert len({mail.link("unsubscribe") for mail in copies.values()}) == 3

    # Ada's link unsubscribes Ada, and nobody else.
    response = client.post(
        copies["ada@example.com"].link("unsubscribe"),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    remaining = set(Subscription.objects.values_list("subscriber__email", flat=True))
    assert remaining == {"grace@example.com", "linus@example.com"}
