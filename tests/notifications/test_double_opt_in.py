"""Double opt-in: nothing but one confirmation request reaches an address until its owner
confirms; the API's answer never tells whether an address was known."""

from __future__ import annotations

import base64
import json

import pytest
from django.test import Client

from tests.conftest import ARTICLE
from tests.notifications.conftest import (
    OTHER_ARTICLE,
    confirm_by_link,
    csrf_token,
    post,
    run_worker,
    subscribe,
    subscribe_confirmed,
)
from townhall.notifications.models import Subscriber, Subscription

pytestmark = pytest.mark.django_db(transaction=True)

READER = "reader@example.com"


def test_new_address_gets_one_confirmation_and_nothing_else_until_it_confirms(api, site, mailbox):
    response = subscribe(api, site, READER)
    assert response.status_code == 202
    run_worker()
    [confirmation] = mailbox.mails
    assert confirmation.recipients == [READER]
    assert "Confirm" in confirmation.subject
    assert site.name in confirmation.text

    # A comment posted before the address is confirmed sends it nothing.
    post(api, site, "Before confirming.")
    run_worker()
    assert len(mailbox) == 1

    # Following the link shows a page with a button; nothing changes on GET.
    path = confirmation.link("confirm")
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(path)
    assert page.status_code == 200
    html = page.content.decode()
    assert '<form method="post">' in html
    assert "<button" in html
    assert Subscriber.objects.get(email=READER).confirmed_at is None

    # The button is a POST that needs the page's CSRF token.
    assert browser.post(path, {}).status_code == 403
    assert Subscriber.objects.get(email=READER).confirmed_at is None
    response = browser.post(path, {"csrfmiddlewaretoken": csrf_token(html)})
    assert response.status_code == 200
    assert Subscriber.objects.get(email=READER).confirmed_at is not None

    # From now on, new comments are mailed.
    comment = post(api, site, "After confirming.")
    run_worker()
    mails = mailbox.to(READER)
    assert len(mails) == 2
    assert "After confirming." in mails[1].text
    assert f"#comment-{comment['id']}" in mails[1].text
    assert "Before confirming." not in mails[1].text


def test_a_confirmed_reader_is_not_asked_again(api, site, mailbox):
    subscribe_confirmed(api, mailbox, site, READER)
    mailbox.clear()

    assert subscribe(api, site, READER, url=OTHER_ARTICLE).status_code == 202
    run_worker()
    assert mailbox.mails == []

    post(api, site, "On the other article.", url=OTHER_ARTICLE)
    run_worker()
    [mail] = mailbox.to(READER)
    assert "On the other article." in mail.text


def test_following_the_link_twice_is_harmless(api, site, mailbox):
    subscribe_confirmed(api, mailbox, site, READER)
    confirmed_at = Subscriber.objects.get(email=READER).confirmed_at
    confirm_by_link(mailbox, READER)
    assert Subscriber.objects.get(email=READER).confirmed_at == confirmed_at


def _payload(receipt: str) -> dict:
    encoded = receipt.split(":")[0]
    return json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))


def test_the_answer_is_the_same_for_new_unconfirmed_and_confirmed_addresses(api, site, mailbox):
    subscribe_confirmed(api, mailbox, site, "known@example.com")

    answers = {
        "new": subscribe(api, site, "new@example.com"),
        "unconfirmed, same article": subscribe(api, site, "new@example.com"),
        "unconfirmed, other article": subscribe(api, site, "new@example.com", url=OTHER_ARTICLE),
        "confirmed, same article": subscribe(api, site, "known@example.com"),
        "confirmed, other article": subscribe(api, site, "known@example.com", url=OTHER_ARTICLE),
        "confirmed, other case": subscribe(api, site, "Known@Example.COM"),
    }
    statuses = {case: answer.status_code for case, answer in answers.items()}
    assert set(statuses.values()) == {202}, statuses
    bodies = {case: answer.json() for case, answer in answers.items()}
    receipts = {case: body.pop("receipt") for case, body in bodies.items()}
    assert len({json.dumps(body, sort_keys=True) for body in bodies.values()}) == 1, bodies
    assert {tuple(answer.headers.keys()) for answer in answers.values()} == {
        tuple(answers["new"].headers.keys())
    }

    # The receipts look alike too. Signed values can be read by anyone (only forging them is
    # hard): on one article, every receipt has the same fields, the same numbers (no
    # subscription id, no "nothing created" marker) and strings of the same length.
    same_article = [receipts["new"], receipts["unconfirmed, same article"]]
    same_article += [receipts["confirmed, same article"], receipts["confirmed, other case"]]
    payloads = [_payload(receipt) for receipt in same_article]
    assert len({len(receipt) for receipt in receipts.values()}) == 1, receipts
    assert len({tuple(sorted(payload)) for payload in payloads}) == 1, payloads
    for key in payloads[0]:
        values = [payload[key] for payload in payloads]
        if isinstance(values[0], str):
            assert len({len(value) for value in values}) == 1, (key, values)
        else:
            assert len({json.dumps(value) for value in values}) == 1, (key, values)


def test_a_receipt_cancels_what_its_request_created_and_nothing_else(api, site, mailbox):
    subscribe_confirmed(api, mailbox, site, READER)
    assert Subscription.objects.filter(subscriber__email=READER).count() == 1

    # Someone else subscribes the same address to the same article: a receipt that matches
    # nothing, so it cannot be used to end the owner's subscription.
    again = subscribe(api, site, READER).json()["receipt"]
    assert api.post("/api/v1/subscriptions/cancel", {"receipt": again}).status_code == 204
    assert Subscription.objects.filter(subscriber__email=READER).count() == 1

    # A new subscription's receipt undoes it.
    other = subscribe(api, site, READER, url=OTHER_ARTICLE).json()["receipt"]
    assert Subscription.objects.filter(subscriber__email=READER).count() == 2
    assert api.post("/api/v1/subscriptions/cancel", {"receipt": other}).status_code == 204
    [left] = Subscription.objects.filter(subscriber__email=READER)
    assert left.thread.url == ARTICLE

    garbage = api.post("/api/v1/subscriptions/cancel", {"receipt": "not-a-receipt"})
    assert garbage.status_code == 400
    assert garbage.json()["error"]["code"] == "invalid_receipt"


def test_confirmations_are_limited_per_client(api, site, mailbox):
    for n in range(10):
        assert subscribe(api, site, f"reader{n}@example.com").status_code == 202
    refused = subscribe(api, site, "reader10@example.com")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    # Another client is not affected.
    assert subscribe(api, site, "reader11@example.com", remote_addr="10.0.0.2").status_code == 202

    run_worker()
    assert len(mailbox) == 11
    assert mailbox.to("reader10@example.com") == []


def test_confirmations_are_limited_per_address_silently(api, site, mailbox):
    answers = [subscribe(api, site, READER, remote_addr=f"10.0.0.{n}") for n in range(1, 6)]
    assert [answer.status_code for answer in answers] == [202] * 5
    assert len({answer.json()["message"] for answer in answers}) == 1
    run_worker()
    assert len(mailbox.to(READER)) == 3
