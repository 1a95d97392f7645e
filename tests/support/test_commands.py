"""``townhall campaign``, ``townhall contribution add`` and ``townhall stripekeys``."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from townhall.sites.models import Site
from townhall.support.models import Campaign, Contribution

pytestmark = pytest.mark.django_db


def run(*args: str, stdin: str | None = None) -> str:
    out = io.StringIO()
    options = {"stdout": out}
    if stdin is not None:
        options["stdin"] = io.StringIO(stdin)
    call_command(*args, **options)
    return out.getvalue()


def test_create_list_show(site):
    out = run(
        "campaign",
        "create",
        "news",
        "winter",
        "--title",
        "Winter drive",
        "--currency",
        "usd",
        "--goal",
        "5000.00",
        "--stretch",
        "7500",
        "--checkout",
        "test",
        "--prompt",
    )
    assert "Created campaign news/winter: $0 of $5,000 (USD)" in out
    campaign = Campaign.objects.get()
    assert (campaign.goal, campaign.stretch_goals, campaign.currency) == (500_000, [750_000], "USD")
    assert campaign.support_prompt and campaign.checkout == "test"
    assert "news/winter" in run("campaign", "list", "news")

    run("contribution", "add", "--campaign", "news/winter", "30.48", "--external-id", "t-1")
    again = run("contribution", "add", "--campaign", "news/winter", "30.48", "--external-id", "t-1")
    assert "there already" in again
    assert Contribution.objects.get().amount == 3048
    shown = run("campaign", "show", "news/winter")
    assert "raised (minor units): 3048 (matches)" in shown


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--currency", "XYZ", "--goal", "10"], "not an ISO 4217"),
        (["--currency", "USD", "--goal", "10.001"], "more than 2 decimals"),
        (["--currency", "USD", "--goal", "10", "--stretch", "5"], "Stretch goals"),
        (["--currency", "USD", "--goal", "10", "--checkout", "donation_url"], "donation page"),
    ],
)
def test_create_refuses_bad_values(site, args, message):
    with pytest.raises(CommandError, match=message):
        run("campaign", "create", "news", "x", "--title", "X", *args)
    assert not Campaign.objects.exists()


def test_a_taken_slug(site):
    run("campaign", "create", "news", "x", "--title", "X", "--currency", "EUR", "--goal", "1")
    with pytest.raises(CommandError, match="already"):
        run("campaign", "create", "news", "x", "--title", "X", "--currency", "EUR", "--goal", "1")


def test_stripe_keys_from_stdin_never_echoed(site):
    out = run("stripekeys", "news", "--stdin", stdin="sk_test_abc\nwhsec_def\n")
    assert out == "Stripe keys of 'news': set.\n"
    site = Site.objects.get(slug="news")
    assert (site.stripe_secret_key, site.stripe_webhook_secret) == ("sk_test_abc", "whsec_def")
    with pytest.raises(CommandError, match="whsec_"):
        run("stripekeys", "news", "--stdin", stdin="\nnot-a-secret\n")
    run("stripekeys", "news", "--clear")
    assert Site.objects.get(slug="news").stripe_secret_key == ""
