from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Field, Schema
from pydantic import StrictBool, StrictInt

CheckoutKind = Literal["stripe", "donation_url", "test"]


class CampaignOut(Schema):
    """A campaign's public figures. Amounts are integers in minor units of `currency`
    (`exponent` digits: 2 for USD, 0 for JPY); `raised` counts settled contributions only,
    less refunds."""

    site: str
    slug: str
    title: str
    currency: str = Field(..., description="ISO 4217, upper case.")
    exponent: int = Field(..., description="Digits of the minor unit (Babel/CLDR).")
    goal: int
    raised: int
    stretch_goals: list[int]
    starts: datetime
    ends: datetime | None
    active: bool = Field(..., description="Running now: started and not ended.")
    checkout: CheckoutKind | None = Field(
        ..., description="How to give now; null when the campaign takes no contributions."
    )
    donation_url: str | None = Field(..., description="Set when `checkout` is `donation_url`.")


class CampaignListOut(Schema):
    campaigns: list[CampaignOut]


class CampaignListQuery(Schema):
    site: str = Field(..., max_length=64)
    prompt: bool = Field(
        False, description="Only campaigns that ask for support after a reader posts."
    )


class CampaignHtmlQuery(Schema):
    lang: str = Field("en", max_length=35, description="A language tag; English when unknown.")


class CheckoutIn(Schema):
    amount: StrictInt | None = Field(
        None, description="Minor units; at least one major unit. Default: 10 major units."
    )
    return_url: str = Field(
        ..., max_length=2048, description="The article to come back to, on the site's origins."
    )
    show_badge: StrictBool = Field(
        False, description="Show the supporter badge on the reader's comments (needs a token)."
    )


class CheckoutOut(Schema):
    url: str = Field(..., description="Send the reader's browser here.")


class WebhookOut(Schema):
    received: bool
    outcome: str = Field(
        ...,
        description=(
            "settled, pending, refunded, duplicate (handled before), ignored, unknown_payment."
        ),
    )
