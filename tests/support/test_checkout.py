"""Starting a contribution: a Stripe Checkout Session (against a stand-in Stripe API on
127.0.0.1, through the real stripe library), a donation page, or the test checkout page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tests.conftest import ARTICLE, ORIGIN
from tests.support.conftest import SECRET_KEY
from townhall.identity.models import Commenter
from townhall.support.models import Contribution
from townhall.support.tokens import make_test_checkout_token

pytestmark = pytest.mark.django_db


def checkout(api, campaign, body=None, **kwargs):
    payload = {"return_url": ARTICLE, **(body or {})}
    path = f"/api/v1/campaigns/{campaign.site.slug}/{campaign.slug}/checkout"
    return api.post(path, payload, **kwargs)


def test_a_stripe_checkout_session(api, stripe_site, campaign, fake_stripe):
    posted = api.comment(stripe_site, "A reader.").json()
    commenter = Commenter.objects.get()
    response = checkout(
        api,
        campaign,
        {"amount": 2500, "show_badge": True},
        origin=ORIGIN,
        token=posted["edit_token"],
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"url": "https://checkout.stripe.com/c/pay/cs_test_fake"}
    [sent] = fake_stripe.requests
    assert sent["path"] == "/v1/checkout/sessions"
    assert sent["headers"]["Authorization"] == f"Bearer {SECRET_KEY}"
    form = sent["form"]
    assert form["mode"] == "payment"
    assert form["line_items[0][price_data][currency]"] == "usd"
    assert form["line_items[0][price_data][unit_amount]"] == "2500"
    assert form["line_items[0][price_data][product_data][name]"] == "Support the newsroom"
    assert form["success_url"] == ARTICLE and form["cancel_url"] == ARTICLE
    assert form["metadata[campaign]"] == str(campaign.pk)
    assert form["metadata[commenter]"] == str(commenter.pk)
    assert form["metadata[show_badge]"] == "1"
    assert not Contribution.objects.exists()  # counted when Stripe says it is paid


def test_without_a_token_no_identity_and_no_badge(api, stripe_site, campaign, fake_stripe):
    response = checkout(api, campaign, {"show_badge": True})
    assert response.status_code == 200
    form = fake_stripe.requests[0]["form"]
    assert form["metadata[commenter]"] == "" and form["metadata[show_badge]"] == "0"
    assert form["line_items[0][price_data][unit_amount]"] == "1000"  # the default: 10 $


def test_stripe_failing_is_a_502_not_a_500(api, stripe_site, campaign, fake_stripe):
    fake_stripe.status = 400
    fake_stripe.answer = {"error": {"type": "invalid_request_error", "message": "No such key"}}
    response = checkout(api, campaign)
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "payment_provider_error"
    assert SECRET_KEY not in response.content.decode()


def test_a_write_from_a_foreign_origin_is_refused(api, stripe_site, campaign, fake_stripe):
    response = checkout(api, campaign, origin="https://evil.example")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "origin_not_allowed"
    assert fake_stripe.requests == []


@pytest.mark.parametrize(
    ("return_url", "status", "code"),
    [
        ("https://evil.example/article", 403, "url_not_allowed"),
        ("javascript:alert(1)", 400, "invalid_url"),
        ("/relative/path", 400, "invalid_url"),
        ("", 400, "invalid_url"),
    ],
)
def test_the_return_url_must_be_on_the_site(api, stripe_site, campaign, return_url, status, code):
    response = checkout(api, campaign, {"return_url": return_url})
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


@pytest.mark.parametrize("amount", [0, 99, -5, 100_000_000])
def test_amounts_out_of_bounds(api, stripe_site, campaign, amount, fake_stripe):
    response = checkout(api, campaign, {"amount": amount})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_amount"


def test_amounts_are_integers(api, stripe_site, campaign):
    response = checkout(api, campaign, {"amount": 25.5})
    assert response.status_code == 422


def test_a_bad_token_is_401(api, stripe_site, campaign):
    response = checkout(api, campaign, token="nope")
    assert response.status_code == 401


def test_no_checkout_without_keys_or_outside_the_dates(api, site, make_campaign):
    no_keys = make_campaign(site, slug="no-keys", checkout="stripe")
    response = checkout(api, no_keys)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "checkout_unavailable"
    ended = make_campaign(
        site,
        slug="ended",
        checkout="test",
        starts=timezone.now() - timedelta(days=9),
        ends=timezone.now() - timedelta(days=1),
    )
    assert checkout(api, ended).status_code == 409


def test_a_donation_page(api, site, make_campaign):
    campaign = make_campaign(
        site, slug="elsewhere", checkout="donation_url", donation_url="https://give.example/n"
    )
    assert checkout(api, campaign).json() == {"url": "https://give.example/n"}


def test_checkouts_are_rate_limited(api, site, make_campaign):
    campaign = make_campaign(site, slug="demo", checkout="test")
    codes = [checkout(api, campaign).status_code for _ in range(11)]
    assert codes[:10] == [200] * 10 and codes[10] == 429


# ---- the test checkout (demo) ---------------------------------------------------------------


def test_the_test_checkout_end_to_end(api, site, make_campaign):
    campaign = make_campaign(site, slug="demo", checkout="test", title="Support SouthFront")
    posted = api.comment(site, "Hello.").json()
    url = checkout(
        api, campaign, {"amount": 2500, "show_badge": True}, token=posted["edit_token"]
    ).json()["url"]
    assert url.startswith("http://127.0.0.1:8000/support/test-checkout/")
    path = url.removeprefix("http://127.0.0.1:8000")

    browser = Client(enforce_csrf_checks=True)
    page = browser.get(path)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Test mode" in html and "no money moves" in html and "Pay (test mode)" in html
    assert "$25" in html
    assert "default-src 'none'" in page["Content-Security-Policy"]
    # The form's redirect back to the article is allowed, and nothing else.
    assert "form-action 'self' https://news.example;" in page["Content-Security-Policy"]

    assert browser.post(path).status_code == 403  # no CSRF token
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    paid = browser.post(path, {"csrfmiddlewaretoken": token})
    assert paid.status_code == 302 and paid["Location"] == ARTICLE
    again = browser.post(path, {"csrfmiddlewaretoken": token})
    assert again.status_code == 302

    contribution = Contribution.objects.get()
    assert (contribution.source, contribution.status, contribution.amount) == (
        "test",
        "settled",
        2500,
    )
    assert contribution.commenter.supporter
    shown = api.get(f"/api/v1/campaigns/{site.slug}/demo").json()
    assert shown["raised"] == 2500


def test_a_tampered_test_checkout_link_is_refused(client, site, make_campaign, api):
    campaign = make_campaign(site, slug="demo", checkout="test")
    url = checkout(api, campaign).json()["url"]
    response = client.get(url.removeprefix("http://127.0.0.1:8000").replace(":", "x", 1))
    assert response.status_code == 400
    assert "not a valid test checkout link" in response.content.decode()


def test_the_test_checkout_is_only_for_test_campaigns(client, api, site, make_campaign):
    campaign = make_campaign(site, slug="real", checkout="stripe")
    token = make_test_checkout_token(
        campaign_id=campaign.pk, amount=100, return_url=ARTICLE, commenter_id=None, show_badge=False
    )
    response = client.get(f"/support/test-checkout/{token}/")
    assert response.status_code == 404
    assert not Contribution.objects.exists()


def test_the_support_page_without_javascript(site, make_campaign):
    campaign = make_campaign(site, slug="demo", checkout="test")
    browser = Client()
    page = browser.get(f"/support/{site.slug}/demo/", {"return_url": ARTICLE})
    assert page.status_code == 200 and "$10" in page.content.decode()
    csp = page["Content-Security-Policy"]
    assert "form-action 'self' http://127.0.0.1:8000 https://checkout.stripe.com;" in csp
    chosen = browser.post(f"/support/{site.slug}/demo/?return_url={ARTICLE}", {"amount": "25"})
    assert chosen.status_code == 302
    assert chosen["Location"].startswith("http://127.0.0.1:8000/support/test-checkout/")
    assert campaign.contributions.count() == 0


def test_the_support_page_links_back_only_to_the_site(site, make_campaign):
    make_campaign(site, slug="demo", checkout="test")
    page = Client().get(f"/support/{site.slug}/demo/", {"return_url": "javascript:alert(1)"})
    html = page.content.decode()
    assert "javascript:" not in html and 'href="https://news.example/"' in html
