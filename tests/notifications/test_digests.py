"""Hourly and daily digests: no mail as comments come, then one email with all of them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client

from tests.notifications.conftest import (
    OTHER_ARTICLE,
    PUBLIC_URL,
    csrf_token,
    post,
    run_worker,
    subscribe,
    subscribe_confirmed,
    time_passes,
)
from townhall.notifications import tasks
from townhall.notifications.models import Delivery, DeliveryStatus, Frequency, Subscriber

pytestmark = pytest.mark.django_db(transaction=True)

HOURLY = "hourly@example.com"
NOW = "now@example.com"


def test_hourly_digest(api, site, mailbox):
    subscribe_confirmed(api, mailbox, site, HOURLY, frequency="hourly")
    assert subscribe(api, site, HOURLY, url=OTHER_ARTICLE).status_code == 202
    subscribe_confirmed(api, mailbox, site, NOW)
    assert Subscriber.objects.get(email=HOURLY).frequency == Frequency.HOURLY
    mailbox.clear()

    first = post(api, site, "The first comment.", author_name="Ann")
    second = post(api, site, "The second comment.", author_name="Ben", url=OTHER_ARTICLE)
    run_worker()
    assert mailbox.to(HOURLY) == []
    assert len(mailbox.to(NOW)) == 1  # the other reader, immediately

    time_passes(timedelta(minutes=59))
    run_worker()
    assert mailbox.to(HOURLY) == []

    time_passes(timedelta(minutes=2))
    run_worker()
    [digest] = mailbox.to(HOURLY)
    assert digest.subject == f"2 new comments on {site.name}"
    for comment, text in ((first, "The first comment."), (second, "The second comment.")):
        assert text in digest.text
        assert text in digest.html_text
        assert f"#comment-{comment['id']}" in digest.text
        assert f"#comment-{comment['id']}" in digest.html
    assert digest.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert str(digest.message["List-Unsubscribe"]).strip().startswith(f"<{PUBLIC_URL}/")
    assert set(
        Delivery.objects.filter(subscriber__email=HOURLY).values_list("status", flat=True)
    ) == {DeliveryStatus.SENT}

    run_worker()
    assert len(mailbox.to(HOURLY)) == 1

    # The next comment waits for the next hour after this digest.
    post(api, site, "The third comment.")
    run_worker()
    assert len(mailbox.to(HOURLY)) == 1
    time_passes(timedelta(minutes=30))
    run_worker()
    assert len(mailbox.to(HOURLY)) == 1
    time_passes(timedelta(minutes=31))
    run_worker()
    assert len(mailbox.to(HOURLY)) == 2
    latest = mailbox.to(HOURLY)[-1]
    assert latest.subject == f"1 new comment on {site.name}"
    assert "The third comment." in latest.text
    assert "The first comment." not in latest.text

    # Nothing waiting: no empty digest.
    time_passes(timedelta(hours=2))
    run_worker()
    assert len(mailbox.to(HOURLY)) == 2


def test_daily_digest_chosen_on_the_manage_page(api, site, mailbox):
    subscribe_confirmed(api, mailbox, site, "daily@example.com")
    post(api, site, "Sent as it comes.")
    run_worker()
    [_, mail] = mailbox.to("daily@example.com")
    match = re.search(rf"{re.escape(PUBLIC_URL)}(/notifications/manage/[^/\s]+/)", mail.text)
    assert match
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(match.group(1)).content.decode()
    response = browser.post(
        match.group(1), {"csrfmiddlewaretoken": csrf_token(page), "frequency": "daily"}
    )
    assert response.status_code == 200
    mailbox.clear()

    post(api, site, "Morning.")
    post(api, site, "Noon.")
    run_worker()
    time_passes(timedelta(hours=1, minutes=1))
    run_worker()
    time_passes(timedelta(hours=22))
    run_worker()
    assert mailbox.mails == []

    time_passes(timedelta(hours=1))
    run_worker()
    [digest] = mailbox.to("daily@example.com")
    assert "Morning." in digest.text
    assert "Noon." in digest.text
    assert "Sent as it comes." not in digest.text
    time_passes(timedelta(days=1, minutes=1))
    run_worker()
    assert len(mailbox) == 1


def test_a_new_address_chooses_its_frequency_but_not_a_confirmed_one(api, site, mailbox):
    subscribe_confirmed(api, mailbox, site, NOW)
    assert subscribe(api, site, NOW, url=OTHER_ARTICLE, frequency="daily").status_code == 202
    # Only the owner, through the manage page, changes a confirmed address's choice.
    assert Subscriber.objects.get(email=NOW).frequency == Frequency.IMMEDIATE


def test_stopping_one_subscription_drops_its_waiting_mail(api, site, mailbox):
    subscribe_confirmed(api, mailbox, site, HOURLY, frequency="hourly")
    assert subscribe(api, site, HOURLY, url=OTHER_ARTICLE).status_code == 202
    [confirmation] = mailbox.to(HOURLY)
    post(api, site, "Still followed.")
    post(api, site, "No longer followed.", url=OTHER_ARTICLE)
    run_worker()

    other = Subscriber.objects.get(email=HOURLY).subscriptions.get(thread__url=OTHER_ARTICLE)
    match = re.search(r"/notifications/confirm/([^/\s]+)/", confirmation.text)
    assert match
    browser = Client(enforce_csrf_checks=True)
    # The manage page's link comes with the first mail; the confirmation page links to it too.
    page = browser.get(f"/notifications/confirm/{match.group(1)}/").content.decode()
    confirmed = browser.post(
        f"/notifications/confirm/{match.group(1)}/", {"csrfmiddlewaretoken": csrf_token(page)}
    ).content.decode()
    manage_link = re.search(r'href="(/notifications/manage/[^"]+/)"', confirmed)
    assert manage_link
    page = browser.get(manage_link.group(1)).content.decode()
    response = browser.post(
        manage_link.group(1), {"csrfmiddlewaretoken": csrf_token(page), "remove": other.pk}
    )
    assert "Removed." in response.content.decode()

    time_passes(timedelta(hours=1, minutes=1))
    run_worker()
    [digest] = mailbox.to(HOURLY)[1:]
    assert "Still followed." in digest.text
    assert "No longer followed." not in digest.text


def test_a_digest_queued_twice_sends_one_per_period(api, site, mailbox):
    subscribe_confirmed(api, mailbox, site, HOURLY, frequency="hourly")
    mailbox.clear()
    post(api, site, "Before the hour.")
    run_worker()
    time_passes(timedelta(hours=1, minutes=1))
    subscriber_id = Subscriber.objects.get(email=HOURLY).pk

    # Two workers' sweeps both queue this digest, and a comment comes in between the two.
    tasks.send_digest.enqueue(subscriber_id)
    post(api, site, "In between.")
    tasks.send_digest.enqueue(subscriber_id)
    run_worker()
    [digest] = mailbox.to(HOURLY)
    assert "Before the hour." in digest.text
    assert "In between." not in digest.text

    time_passes(timedelta(hours=1, minutes=1))
    run_worker()
    assert "In between." in mailbox.to(HOURLY)[-1].text
    assert len(mailbox.to(HOURLY)) == 2
