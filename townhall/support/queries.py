"""Reads of reader support: campaigns by their public names, and what the public may see.

Public output has the campaign and its total, never a contribution: no names, no emails, no
single amounts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from townhall.core.errors import NotFound
from townhall.sites.models import Site
from townhall.support.models import Campaign, Checkout, Contribution, ContributionStatus
from townhall.support.money import exponent


def access_campaign(site: Site, slug: str) -> Campaign:
    """The site's campaign ``slug``; NotFound ``unknown_campaign`` otherwise."""
    campaign = Campaign.objects.filter(site=site, slug=slug).first()
    if campaign is None:
        raise NotFound(
            f"Site {site.slug!r} has no campaign {slug!r}.", code="unknown_campaign", field="slug"
        )
    campaign.site = site
    return campaign


def site_campaigns(
    site: Site, *, active_only: bool = False, prompt: bool = False
) -> list[Campaign]:
    """The site's campaigns, newest first; ``active_only``: those running now; ``prompt``: only
    those that ask for support after a reader posts."""
    campaigns: QuerySet[Campaign] = Campaign.objects.filter(site=site)
    if prompt:
        campaigns = campaigns.filter(support_prompt=True)
    if active_only:
        now = timezone.now()
        campaigns = campaigns.filter(starts__lte=now).exclude(ends__lte=now)
    found = list(campaigns.order_by("-starts", "-pk"))
    for campaign in found:
        campaign.site = site
    return found


def is_active(campaign: Campaign, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return campaign.starts <= now and (campaign.ends is None or now < campaign.ends)


def available_checkout(campaign: Campaign, now: datetime | None = None) -> str | None:
    """How a reader can give now: the campaign's checkout when it is running and usable (Stripe
    needs the site's key, a donation page its URL), else None."""
    if not is_active(campaign, now):
        return None
    if campaign.checkout == Checkout.STRIPE and not campaign.site.stripe_secret_key:
        return None
    if campaign.checkout == Checkout.DONATION_URL and not campaign.donation_url:
        return None
    return campaign.checkout


def present_campaign(campaign: Campaign, now: datetime | None = None) -> dict[str, Any]:
    """The public view of a campaign: its figures in minor units, no contribution.

    Precondition: ``campaign.site`` is loaded (``access_campaign``, ``site_campaigns``).
    """
    now = now or timezone.now()
    checkout = available_checkout(campaign, now)
    return {
        "site": campaign.site.slug,
        "slug": campaign.slug,
        "title": campaign.title,
        "currency": campaign.currency,
        "exponent": exponent(campaign.currency),
        "goal": campaign.goal,
        "raised": campaign.settled_total,
        "stretch_goals": list(campaign.stretch_goals),
        "starts": campaign.starts,
        "ends": campaign.ends,
        "active": is_active(campaign, now),
        "checkout": checkout,
        "donation_url": campaign.donation_url if checkout == Checkout.DONATION_URL else None,
    }


def settled_sum(campaign: Campaign) -> int:
    """What the campaign's contributions count, summed from their rows; ``settled_total`` is
    kept equal to it (``townhall campaign show`` and the tests compare the two)."""
    rows = Contribution.objects.filter(campaign=campaign, status=ContributionStatus.SETTLED)
    return sum(
        amount - refunded for amount, refunded in rows.values_list("amount", "refunded_amount")
    )


def recent_contributions(campaign: Campaign, limit: int = 50) -> QuerySet[Contribution]:
    """For staff only: the campaign's latest contributions."""
    return Contribution.objects.filter(campaign=campaign).order_by("-created", "-pk")[:limit]
