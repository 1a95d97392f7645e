"""The public campaign endpoints: JSON, the server-rendered goal bar, and the list the widget
asks after a reader posts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from townhall.sites.actions import do_set_stripe_keys
from townhall.support.actions import do_record_contribution, do_refund_contribution
from townhall.support.html import campaign_html
from townhall.support.models import ContributionSource

pytestmark = pytest.mark.django_db


def give(campaign, amount: int, **options):
    return do_record_contribution(
        campaign,
        amount=amount,
        currency=campaign.currency,
        source=ContributionSource.MANUAL,
        **options,
    ).contribution


def test_a_campaign_as_json(api, site, make_campaign):
    campaign = make_campaign(
        site,
        slug="southfront",
        title="Support SouthFront",
        checkout="test",
        stretch_goals=[750_000],
    )
    give(campaign, 304_800)
    response = api.get(f"/api/v1/campaigns/{site.slug}/southfront")
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "site": "news",
        "slug": "southfront",
        "title": "Support SouthFront",
        "currency": "USD",
        "exponent": 2,
        "goal": 500_000,
        "raised": 304_800,
        "stretch_goals": [750_000],
        "starts": body["starts"],
        "ends": None,
        "active": True,
        "checkout": "test",
        "donation_url": None,
    }
    assert response["Cache-Control"] == "public, max-age=0, must-revalidate"


def test_the_etag_changes_when_a_contribution_settles_or_is_refunded(api, site, make_campaign):
    campaign = make_campaign(site, slug="drive")
    first = api.get(f"/api/v1/campaigns/{site.slug}/drive")
    etag = first["ETag"]
    same = api.get(f"/api/v1/campaigns/{site.slug}/drive", headers={"If-None-Match": etag})
    assert same.status_code == 304
    contribution = give(campaign, 1234)
    changed = api.get(f"/api/v1/campaigns/{site.slug}/drive", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.json()["raised"] == 1234
    do_refund_contribution(contribution, refunded_amount=234)
    refunded = api.get(
        f"/api/v1/campaigns/{site.slug}/drive", headers={"If-None-Match": changed["ETag"]}
    )
    assert refunded.status_code == 200 and refunded.json()["raised"] == 1000


def test_checkout_is_null_when_it_cannot_be_used(api, site, make_campaign):
    make_campaign(site, slug="stripe-no-keys", checkout="stripe")
    later = timezone.now() + timedelta(days=3)
    make_campaign(site, slug="later", checkout="test", starts=later)
    make_campaign(
        site, slug="elsewhere", checkout="donation_url", donation_url="https://give.example/x"
    )
    get = lambda slug: api.get(f"/api/v1/campaigns/{site.slug}/{slug}").json()  # noqa: E731
    assert get("stripe-no-keys")["checkout"] is None
    assert (get("later")["active"], get("later")["checkout"]) == (False, None)
    assert get("elsewhere")["checkout"] == "donation_url"
    assert get("elsewhere")["donation_url"] == "https://give.example/x"
    do_set_stripe_keys(site, secret_key="sk_test_1", webhook_secret="whsec_1")
    assert get("stripe-no-keys")["checkout"] == "stripe"


def test_unknown_site_and_campaign_are_404(api, site):
    response = api.get("/api/v1/campaigns/news/nothing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_campaign"
    assert api.get("/api/v1/campaigns/nowhere/x").json()["error"]["code"] == "unknown_site"


def test_the_list_for_the_prompt_after_a_post(api, site, make_site, make_campaign):
    make_campaign(site, slug="prompting", checkout="test", support_prompt=True)
    make_campaign(site, slug="quiet", checkout="test")
    make_campaign(
        site,
        slug="over",
        support_prompt=True,
        starts=timezone.now() - timedelta(days=10),
        ends=timezone.now() - timedelta(days=1),
    )
    make_campaign(make_site(slug="other"), slug="theirs", support_prompt=True)
    with CaptureQueriesContext(connection) as queries:
        response = api.get("/api/v1/campaigns", site=site.slug, prompt="true")
    assert [c["slug"] for c in response.json()["campaigns"]] == ["prompting"]
    assert len(queries) == 2  # the site, its campaigns
    every = api.get("/api/v1/campaigns", site=site.slug).json()["campaigns"]
    assert sorted(c["slug"] for c in every) == ["prompting", "quiet"]
    assert "raised" in every[0] and "contributions" not in every[0]


# ---- the goal bar -------------------------------------------------------------------------


def test_the_goal_bar_speaks_the_pages_language_without_javascript(api, site, make_campaign):
    campaign = make_campaign(site, slug="southfront", title="Support SouthFront", checkout="test")
    give(campaign, 304_800)
    html = api.get(f"/api/v1/campaigns/{site.slug}/southfront/html", lang="de").content.decode()
    # Words from the widget's own German strings, amounts as German writes money.
    assert "Gesammelt: <strong" in html
    assert 'aria-valuetext="3.048\u00a0$ von 5.000\u00a0$ gesammelt"' in html
    assert 'aria-label="Gesammelt für das Ziel von 5.000\u00a0$"' in html
    # A language the widget does not speak falls back to English words.
    fallback = api.get(f"/api/v1/campaigns/{site.slug}/southfront/html", lang="fr").content.decode()
    assert "Raised: <strong" in fallback


def test_the_goal_bar_fragment(api, site, make_campaign):
    campaign = make_campaign(site, slug="southfront", title="Support SouthFront", checkout="test")
    give(campaign, 304_800)
    response = api.get(f"/api/v1/campaigns/{site.slug}/southfront/html", lang="en")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response["Content-Security-Policy"].startswith("default-src 'none'")
    html = response.content.decode()
    for figure in ("$0", "$2,500", "$5,000", "$3,048"):
        assert f">{figure}<" in html
    assert 'role="progressbar"' in html
    assert 'aria-valuemin="0" aria-valuemax="5000" aria-valuenow="3048"' in html
    assert 'aria-valuetext="$3,048 raised of $5,000"' in html
    assert 'style="width: 60.96%"' in html
    assert ">Support SouthFront</a>" in html
    assert f'href="http://127.0.0.1:8000/support/{site.slug}/southfront/"' in html
    assert "<script" not in html
    etag = response["ETag"]
    again = api.get(
        f"/api/v1/campaigns/{site.slug}/southfront/html", lang="en", headers={"If-None-Match": etag}
    )
    assert again.status_code == 304


def test_the_goal_bar_speaks_the_readers_locale(api, site, make_campaign):
    campaign = make_campaign(site, slug="spende", currency="EUR", goal=1_000_050)
    give(campaign, 123_456)
    html = api.get(f"/api/v1/campaigns/{site.slug}/spende/html", lang="de-DE").content.decode()
    assert 'lang="de-DE"' in html
    assert "1.234,56\xa0€" in html and "10.000,50\xa0€" in html
    unknown = api.get(f"/api/v1/campaigns/{site.slug}/spende/html", lang="xx-nope")
    assert unknown.status_code == 200 and "€1,234.56" in unknown.content.decode()


def test_currencies_without_minor_units(api, site, make_campaign):
    campaign = make_campaign(site, slug="yen", currency="JPY", goal=100_000)
    give(campaign, 3_048)
    assert api.get(f"/api/v1/campaigns/{site.slug}/yen").json()["exponent"] == 0
    html = api.get(f"/api/v1/campaigns/{site.slug}/yen/html", lang="ja").content.decode()
    assert "￥3,048" in html and 'aria-valuenow="3048"' in html


def test_everything_in_the_fragment_is_escaped(site, make_campaign):
    make_campaign(site, slug="x", title='<script>alert("x")</script> & "friends"', checkout="test")
    html = campaign_html(site, "x")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;friends&quot;" in html


def test_campaign_html_for_page_templates(site, make_campaign):
    campaign = make_campaign(site, slug="southfront", title="Support SouthFront", checkout="test")
    give(campaign, 304_800)
    html = campaign_html("news", "southfront", pattern="#,##0 ¤")
    for figure in ("0 $", "2,500 $", "5,000 $", "3,048 $"):
        assert f">{figure}<" in html
    assert 'aria-valuetext="3,048 $ raised of 5,000 $"' in html
    linked = campaign_html(site, "southfront", return_url="https://news.example/a?b=1&c=2")
    assert "return_url=https%3A%2F%2Fnews.example%2Fa%3Fb%3D1%26c%3D2" in linked


def test_past_the_goal_the_bar_is_full_and_shows_the_next_stretch_goal(site, make_campaign):
    campaign = make_campaign(site, slug="x", goal=10_000, stretch_goals=[20_000, 30_000])
    give(campaign, 25_000)
    html = campaign_html(site, "x")
    assert 'aria-valuemax="100" aria-valuenow="100"' in html
    assert 'aria-valuetext="$250 raised of $100"' in html
    assert 'style="width: 100.00%"' in html
    assert 'Next goal: <span class="townhall-campaign__stretch">$300</span>' in html


def test_the_openapi_document_describes_support(api, site):
    schema = api.get("/api/openapi.json").json()
    paths = schema["paths"]
    assert {"get"} <= set(paths["/api/v1/campaigns"])
    assert {"get"} <= set(paths["/api/v1/campaigns/{site}/{slug}"])
    assert {"get"} <= set(paths["/api/v1/campaigns/{site}/{slug}/html"])
    checkout = paths["/api/v1/campaigns/{site}/{slug}/checkout"]["post"]
    assert {"200", "400", "401", "403", "404", "409", "422", "429", "502"} <= set(
        checkout["responses"]
    )
    webhook = paths["/api/v1/stripe/webhook/{site}"]["post"]
    assert {"200", "400", "404"} <= set(webhook["responses"])
    components = schema["components"]["schemas"]
    assert {"CampaignOut", "CampaignListOut", "CheckoutIn", "CheckoutOut", "WebhookOut"} <= set(
        components
    )
    assert set(components["CampaignOut"]["required"]) >= {"goal", "raised", "exponent"}


def test_the_sites_stripe_keys_never_leave(api, site, make_campaign, caplog, monkeypatch):
    do_set_stripe_keys(site, secret_key="sk_test_secret_123", webhook_secret="whsec_secret_456")
    make_campaign(site, slug="drive", checkout="stripe")
    monkeypatch.setenv("TOWNHALL_STRIPE_API_BASE", "http://127.0.0.1:9")  # nothing listens
    answers = [
        api.get("/api/v1/campaigns/news/drive"),
        api.get("/api/v1/campaigns/news/drive/html"),
        api.get("/api/v1/campaigns", site="news"),
        api.get("/api/openapi.json"),
        api.post("/api/v1/campaigns/news/drive/checkout", {"return_url": "https://news.example/"}),
        api.post("/api/v1/stripe/webhook/news", {"id": "evt_1"}),
    ]
    assert answers[4].status_code == 502
    for response in answers:
        text = response.content.decode()
        assert "sk_test_secret_123" not in text and "whsec_secret_456" not in text
    assert "secret_123" not in caplog.text and "secret_456" not in caplog.text
