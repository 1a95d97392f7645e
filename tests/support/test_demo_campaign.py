from __future__ import annotations

import pytest
from django.core.management import call_command

from townhall.support.html import campaign_html
from townhall.support.models import Campaign
from townhall.support.queries import settled_sum

pytestmark = pytest.mark.django_db


def test_the_demo_campaign_has_the_seed_pages_figures(capsys, client):
    call_command("demo", "--port", "8123")
    call_command("demo", "--port", "8123")
    campaign = Campaign.objects.get(site__slug="demo", slug="southfront")
    assert (campaign.title, campaign.currency, campaign.goal) == (
        "Support SouthFront",
        "USD",
        500_000,
    )
    assert campaign.settled_total == settled_sum(campaign) == 304_800
    assert campaign.checkout == "test" and campaign.support_prompt
    assert "$3,048 raised of $5,000" in capsys.readouterr().out
    html = campaign_html("demo", "southfront", pattern="#,##0 ¤")
    for figure in ("0 $", "2,500 $", "5,000 $", "3,048 $", "Support SouthFront"):
        assert figure in html
    body = client.get("/api/v1/campaigns/demo/southfront").json()
    assert (body["goal"], body["raised"], body["checkout"]) == (500_000, 304_800, "test")
