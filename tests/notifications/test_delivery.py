"""Sending: never during a request, retried with back-off when the SMTP server is away."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.conftest import ARTICLE
from tests.notifications.conftest import (
    confirmed_subscribers,
    free_port,
    post,
    run_worker,
    subscribe_confirmed,
)
from townhall.discussions.actions import do_open_thread
from townhall.notifications.models import Delivery, DeliveryStatus

pytestmark = pytest.mark.django_db(transaction=True)

READER = "reader@example.com"


def test_a_request_never_sends_mail(api, site, mailbox):
    thread = do_open_thread(site, url=ARTICLE)
    addresses = [f"reader{n}@example.com" for n in range(50)]
    confirmed_subscribers(site, thread, addresses)

    response = api.comment(site, "Fifty readers will hear of this.", author_name="Ann")
    assert response.status_code == 201
    assert len(mailbox) == 0  # SMTP delivery is synchronous: anything sent would be here

    run_worker()
    assert sorted(address for mail in mailbox.mails for address in mail.recipients) == sorted(
        addresses
    )


def test_a_subscribe_request_never_sends_mail(api, site, mailbox):
    response = api.post(
        "/api/v1/subscriptions", {"site": site.slug, "url": ARTICLE, "email": READER}
    )
    assert response.status_code == 202
    assert len(mailbox) == 0
    run_worker()
    assert len(mailbox) == 1


def test_retry_with_back_off_when_the_smtp_server_is_away(api, site, mailbox, settings):
    subscribe_confirmed(api, mailbox, site, READER)
    mailbox.clear()
    server_port = settings.EMAIL_PORT
    settings.EMAIL_PORT = free_port()  # nothing listens there

    comment = post(api, site, "Sent on the second try.")
    before = timezone.now()
    run_worker()  # no exception escapes
    delivery = Delivery.objects.get(subscriber__email=READER, comment_id=comment["id"])
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.attempts == 1
    assert delivery.next_attempt_at is not None
    wait = delivery.next_attempt_at - before
    assert timedelta(minutes=1, seconds=50) <= wait <= timedelta(minutes=2, seconds=10), wait
    assert delivery.last_error
    assert len(mailbox) == 0

    # Not due yet: the next run does not try again, even with the server back.
    settings.EMAIL_PORT = server_port
    run_worker()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
    assert len(mailbox) == 0

    # Once due, it is sent, once.
    Delivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    run_worker()
    run_worker()
    [mail] = mailbox.to(READER)
    assert "Sent on the second try." in mail.text
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (DeliveryStatus.SENT, 2, "")


def test_back_off_grows_then_gives_up(api, site, mailbox, settings):
    subscribe_confirmed(api, mailbox, site, READER)
    settings.EMAIL_PORT = free_port()
    comment = post(api, site, "Never delivered.")
    delivery = None
    waits = []
    for _ in range(8):
        before = timezone.now()
        run_worker()
        delivery = Delivery.objects.get(subscriber__email=READER, comment_id=comment["id"])
        if delivery.next_attempt_at is None:
            break
        waits.append(round((delivery.next_attempt_at - before).total_seconds() / 60))
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert waits == [2, 4, 8, 16, 32, 64, 128]
    assert delivery is not None
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 8
