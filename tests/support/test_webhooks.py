"""Stripe's webhook end to end: signed events counted once, forged or stale ones refused,
refunds lowering the total, the supporter badge given and taken away."""

from __future__ import annotations

import time

import pytest

from tests.conftest import ARTICLE
from tests.support.conftest import (
    charge_refunded,
    deliver,
    event,
    session,
    sign,
)
from townhall.discussions.models import Comment, Thread
from townhall.identity.models import Commenter
from townhall.support.models import Campaign, Contribution, StripeEvent
from townhall.support.queries import settled_sum

pytestmark = pytest.mark.django_db


def raised(campaign: Campaign) -> int:
    campaign.refresh_from_db()
    assert campaign.settled_total == settled_sum(campaign)
    return campaign.settled_total


def test_a_signed_event_delivered_100_times_counts_once(api, stripe_site, campaign):
    payload = event("checkout.session.completed", session(campaign, amount=2500))
    outcomes = []
    for _ in range(100):
        response = deliver(api, stripe_site, payload)
        assert response.status_code == 200
        outcomes.append(response.json()["outcome"])
    assert outcomes[0] == "settled" and set(outcomes[1:]) == {"duplicate"}
    assert raised(campaign) == 2500
    assert Contribution.objects.count() == 1
    assert StripeEvent.objects.get().outcome == "settled"
    assert api.get(f"/api/v1/campaigns/{stripe_site.slug}/winter").json()["raised"] == 2500


def test_the_same_session_in_two_events_counts_once(api, stripe_site, campaign):
    paid = session(campaign, amount=1000, session_id="cs_test_same")
    assert deliver(api, stripe_site, event("checkout.session.completed", paid)).status_code == 200
    again = event("checkout.session.async_payment_succeeded", paid)
    assert deliver(api, stripe_site, again).json()["outcome"] == "settled"
    assert raised(campaign) == 1000 and Contribution.objects.count() == 1


@pytest.mark.parametrize(
    "signature",
    [
        None,  # no header
        "t=1,v1=abc",  # garbage
        "forged",  # signed with another secret
        "stale",  # right secret, six minutes old
        "future-payload",  # a signature of another body
    ],
)
def test_a_forged_or_stale_signature_is_refused_and_counts_nothing(
    api, stripe_site, campaign, signature
):
    payload = event("checkout.session.completed", session(campaign, amount=2500))
    header = {
        "forged": sign(payload, "whsec_someone_else"),
        "stale": sign(payload, timestamp=int(time.time()) - 360),
        "future-payload": sign(payload.replace(b"2500", b"9999")),
    }.get(signature or "", signature)
    response = deliver(api, stripe_site, payload, header)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_signature"
    assert raised(campaign) == 0
    assert not Contribution.objects.exists() and not StripeEvent.objects.exists()


def test_a_site_without_a_webhook_secret_refuses_every_event(api, make_site, make_campaign):
    site = make_site(slug="nokeys")
    campaign = make_campaign(site)
    payload = event("checkout.session.completed", session(campaign))
    response = deliver(api, site, payload, sign(payload, ""))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_signature"
    assert not Contribution.objects.exists()


def test_an_unknown_site_is_404(api, stripe_site, campaign):
    payload = event("checkout.session.completed", session(campaign))
    response = api.request(
        "POST",
        "/api/v1/stripe/webhook/nowhere",
        raw=payload,
        headers={"Stripe-Signature": sign(payload)},
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_site"


def test_refunds_lower_the_total(api, stripe_site, campaign):
    paid = session(campaign, amount=5000, intent="pi_refund_me")
    deliver(api, stripe_site, event("checkout.session.completed", paid))
    other = session(campaign, amount=700)
    deliver(api, stripe_site, event("checkout.session.completed", other))
    assert raised(campaign) == 5700

    partial = event("charge.refunded", charge_refunded("pi_refund_me", 5000, 1500))
    assert deliver(api, stripe_site, partial).json()["outcome"] == "refunded"
    assert raised(campaign) == 4200
    contribution = Contribution.objects.get(payment_intent="pi_refund_me")
    assert (contribution.status, contribution.refunded_amount) == ("settled", 1500)

    # Stripe's amount_refunded is cumulative; an older event arriving late changes nothing.
    full = event("charge.refunded", charge_refunded("pi_refund_me", 5000, 5000))
    deliver(api, stripe_site, full)
    late = event("charge.refunded", charge_refunded("pi_refund_me", 5000, 1500))
    deliver(api, stripe_site, late)
    assert raised(campaign) == 700
    contribution.refresh_from_db()
    assert (contribution.status, contribution.refunded_amount) == ("refunded", 5000)


def test_a_refund_of_an_unknown_payment_is_recorded_and_ignored(api, stripe_site, campaign):
    payload = event("charge.refunded", charge_refunded("pi_nobody", 100, 100))
    assert deliver(api, stripe_site, payload).json()["outcome"] == "unknown_payment"
    assert StripeEvent.objects.count() == 1


def test_an_unpaid_session_waits_until_its_payment_succeeds(api, stripe_site, campaign):
    unpaid = session(campaign, amount=3000, paid=False)
    response = deliver(api, stripe_site, event("checkout.session.completed", unpaid))
    assert response.json()["outcome"] == "pending"
    assert raised(campaign) == 0
    succeeded = {**unpaid, "payment_status": "paid"}
    response = deliver(
        api, stripe_site, event("checkout.session.async_payment_succeeded", succeeded)
    )
    assert response.json()["outcome"] == "settled"
    assert raised(campaign) == 3000


@pytest.mark.parametrize(
    "change",
    [
        {"currency": "eur"},  # not the campaign's currency
        {"amount_total": None},
        {"metadata": {"campaign": "999999"}},
        {"metadata": {}},
    ],
)
def test_sessions_that_cannot_be_counted_are_recorded_and_ignored(
    api, stripe_site, campaign, change
):
    payload = event("checkout.session.completed", {**session(campaign), **change})
    response = deliver(api, stripe_site, payload)
    assert response.status_code == 200 and response.json()["outcome"] == "ignored"
    assert raised(campaign) == 0 and StripeEvent.objects.count() == 1


def test_another_sites_campaign_is_not_counted(api, stripe_site, make_site, make_campaign):
    theirs = make_campaign(make_site(slug="theirs"))
    payload = event("checkout.session.completed", session(theirs))
    assert deliver(api, stripe_site, payload).json()["outcome"] == "ignored"
    assert raised(theirs) == 0


def test_unknown_event_types_are_recorded_and_ignored(api, stripe_site, campaign):
    payload = event("customer.created", {"id": "cus_1", "object": "customer"})
    response = deliver(api, stripe_site, payload)
    assert response.status_code == 200 and response.json() == {
        "received": True,
        "outcome": "ignored",
    }
    assert StripeEvent.objects.get().type == "customer.created"


def test_signed_but_malformed_events_are_400(api, stripe_site, campaign):
    for payload in (b"not json", b'{"id": "evt_x"}', b"[]"):
        response = deliver(api, stripe_site, payload)
        assert response.status_code == 400, payload
        assert response.json()["error"]["code"] == "invalid_event"


# ---- the supporter badge ------------------------------------------------------------------


def version(thread_id: int) -> int:
    return Thread.objects.get(pk=thread_id).version


def test_the_badge_comes_with_a_contribution_and_goes_with_its_refund(api, stripe_site, campaign):
    posted = api.comment(stripe_site, "I read every issue.").json()
    commenter = Commenter.objects.get()
    thread_id = Comment.objects.get().thread_id
    before = version(thread_id)

    paid = session(
        campaign, amount=2000, intent="pi_badge", commenter_id=commenter.pk, show_badge=True
    )
    deliver(api, stripe_site, event("checkout.session.completed", paid))
    commenter.refresh_from_db()
    assert commenter.supporter and Comment.objects.get().supporter
    after_badge = version(thread_id)
    assert after_badge > before

    # A new comment by the supporter carries the badge from the start.
    again = api.comment(stripe_site, "Still here.", token=posted["edit_token"])
    assert again.status_code == 201
    assert Comment.objects.get(pk=again.json()["comment"]["id"]).supporter

    deliver(api, stripe_site, event("charge.refunded", charge_refunded("pi_badge", 2000, 500)))
    commenter.refresh_from_db()
    assert commenter.supporter  # partly refunded: still a supporter
    deliver(api, stripe_site, event("charge.refunded", charge_refunded("pi_badge", 2000, 2000)))
    commenter.refresh_from_db()
    assert not commenter.supporter
    assert not Comment.objects.filter(supporter=True).exists()
    assert version(thread_id) > after_badge


def test_no_badge_without_asking_for_it(api, stripe_site, campaign):
    api.comment(stripe_site, "Hello.")
    commenter = Commenter.objects.get()
    paid = session(campaign, commenter_id=commenter.pk, show_badge=False)
    deliver(api, stripe_site, event("checkout.session.completed", paid))
    commenter.refresh_from_db()
    assert not commenter.supporter and not Comment.objects.get().supporter
    assert Contribution.objects.get().commenter_id == commenter.pk


def test_a_commenter_of_another_site_is_not_linked(api, stripe_site, campaign, make_site):
    other = make_site(slug="elsewhere")
    api.comment(other, "Hi.", url=ARTICLE)
    stranger = Commenter.objects.get(site=other)
    paid = session(campaign, commenter_id=stranger.pk, show_badge=True)
    deliver(api, stripe_site, event("checkout.session.completed", paid))
    stranger.refresh_from_db()
    assert not stranger.supporter
    assert Contribution.objects.get().commenter_id is None
