"""A campaign's total always equals what its contributions count, whatever happens to them."""

from __future__ import annotations

import random

import pytest

from townhall.core.errors import BadRequest
from townhall.support.actions import (
    do_record_contribution,
    do_refund_contribution,
    do_settle_contribution,
)
from townhall.support.models import Contribution, ContributionSource, ContributionStatus
from townhall.support.queries import settled_sum

pytestmark = pytest.mark.django_db


def test_totals_equal_the_sum_of_settled_contributions(site, make_campaign):
    campaigns = [make_campaign(site), make_campaign(site)]
    rng = random.Random(8)
    for step in range(200):
        campaign = rng.choice(campaigns)
        existing = list(Contribution.objects.filter(campaign=campaign))
        move = rng.random()
        if move < 0.5 or not existing:
            do_record_contribution(
                campaign,
                amount=rng.randint(1, 50_000),
                currency="USD",
                source=rng.choice([ContributionSource.MANUAL, ContributionSource.STRIPE]),
                status=rng.choice([ContributionStatus.SETTLED, ContributionStatus.PENDING]),
                external_id=f"x-{rng.randint(1, 60)}" if rng.random() < 0.5 else None,
            )
        elif move < 0.7:
            do_settle_contribution(rng.choice(existing))
        else:
            chosen = rng.choice(existing)
            do_refund_contribution(chosen, refunded_amount=rng.randint(0, chosen.amount))
        for each in campaigns:
            each.refresh_from_db()
            assert each.settled_total == settled_sum(each), step


def test_a_contribution_in_another_currency_is_refused(site, make_campaign):
    campaign = make_campaign(site)
    with pytest.raises(BadRequest) as caught:
        do_record_contribution(
            campaign, amount=100, currency="EUR", source=ContributionSource.MANUAL
        )
    assert caught.value.code == "currency_mismatch"
    assert not Contribution.objects.exists()
