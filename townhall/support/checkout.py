"""Starting a contribution: a Stripe Checkout Session, the campaign's own donation page, or
(for ``checkout="test"`` campaigns, the demo) Townhall's test checkout page.

Stripe is called with the site's own secret key through ``stripe.StripeClient``, at
``TOWNHALL_STRIPE_API_BASE`` (Stripe's API unless set). What Stripe needs to credit the
contribution later travels in the session's metadata: the campaign, the reader's identity (when
they sent their token) and whether they asked for the supporter badge.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import stripe
from django.urls import reverse

from townhall.core.errors import BadGateway, BadRequest, Conflict, Forbidden
from townhall.identity.models import Commenter
from townhall.support import app_settings
from townhall.support.models import Campaign, Checkout
from townhall.support.money import exponent
from townhall.support.queries import available_checkout
from townhall.support.tokens import make_test_checkout_token

logger = logging.getLogger(__name__)

DEFAULT_MAJOR_UNITS = 10  # the amount when the reader chose none: 10 $, 10 €, 10 ¥…
MAX_AMOUNT = 99_999_999  # minor units: Stripe Checkout's limit for most currencies
MAX_URL_CHARS = 2048
STRIPE_TIMEOUT_SECONDS = 15
CHECKOUT_RATE = "10/m"  # checkouts started per client address and site


def default_amount(campaign: Campaign) -> int:
    return DEFAULT_MAJOR_UNITS * 10 ** exponent(campaign.currency)


def clean_checkout_amount(campaign: Campaign, amount: int | None) -> int:
    """The amount to ask for, in minor units: at least one major unit (1 $), at most Stripe's
    limit; the default when none is given."""
    if amount is None:
        return default_amount(campaign)
    least = 10 ** exponent(campaign.currency)
    if isinstance(amount, bool) or not least <= amount <= MAX_AMOUNT:
        raise BadRequest(
            f"An amount is from {least} to {MAX_AMOUNT} minor units of {campaign.currency}.",
            code="invalid_amount",
            field="amount",
        )
    return amount


def clean_return_url(campaign: Campaign, url: str) -> str:
    """The article the reader comes back to: an http(s) URL on one of the site's origins."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > MAX_URL_CHARS:
        raise BadRequest("return_url is an http(s) URL.", code="invalid_url", field="return_url")
    origin = f"{parts.scheme}://{parts.netloc}"
    if not campaign.site.allows_origin(origin):
        raise Forbidden(
            f"Pages at {origin} are not part of site {campaign.site.slug!r}.",
            code="url_not_allowed",
            field="return_url",
        )
    return url


def start_checkout(
    campaign: Campaign,
    *,
    amount: int | None,
    return_url: str,
    commenter: Commenter | None = None,
    show_badge: bool = False,
) -> str:
    """The URL the reader's browser goes to next. Conflict ``checkout_unavailable`` when the
    campaign is not running or has no usable checkout; BadGateway when Stripe fails.

    Precondition: ``campaign.site`` loaded; ``commenter``, when given, resolved from a token
    of that site.
    """
    kind = available_checkout(campaign)
    if kind is None:
        raise Conflict("This campaign takes no contributions now.", code="checkout_unavailable")
    return_url = clean_return_url(campaign, return_url)
    if kind == Checkout.DONATION_URL:
        return campaign.donation_url
    amount = clean_checkout_amount(campaign, amount)
    badge = bool(show_badge and commenter is not None)
    if kind == Checkout.TEST:
        token = make_test_checkout_token(
            campaign_id=campaign.pk,
            amount=amount,
            return_url=return_url,
            commenter_id=commenter.pk if commenter else None,
            show_badge=badge,
        )
        path = reverse("support:test-checkout", args=[token])
        return f"{app_settings.public_url()}{path}"
    return _stripe_checkout_url(
        campaign, amount=amount, return_url=return_url, commenter=commenter, show_badge=badge
    )


def stripe_client(secret_key: str) -> stripe.StripeClient:
    return stripe.StripeClient(
        secret_key,
        base_addresses={"api": app_settings.stripe_api_base()},
        http_client=stripe.RequestsClient(timeout=STRIPE_TIMEOUT_SECONDS),
        max_network_retries=1,
    )


def _stripe_checkout_url(
    campaign: Campaign,
    *,
    amount: int,
    return_url: str,
    commenter: Commenter | None,
    show_badge: bool,
) -> str:
    metadata = {
        "campaign": str(campaign.pk),
        "commenter": str(commenter.pk) if commenter else "",
        "show_badge": "1" if show_badge else "0",
    }
    params = {
        "mode": "payment",
        "submit_type": "donate",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": campaign.currency.lower(),
                    "unit_amount": amount,
                    "product_data": {"name": campaign.title},
                },
            }
        ],
        "success_url": return_url,
        "cancel_url": return_url,
        "client_reference_id": f"campaign-{campaign.pk}",
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata},
    }
    try:
        session = stripe_client(campaign.site.stripe_secret_key).v1.checkout.sessions.create(
            params=params  # type: ignore[arg-type]
        )
    except stripe.StripeError as error:
        # The error's class and code only: its message may quote the request.
        logger.warning(
            "Stripe refused a checkout for site %s: %s %s",
            campaign.site.slug,
            type(error).__name__,
            getattr(error, "code", None) or "",
        )
        raise BadGateway(
            "The payment provider did not start the checkout; try again later.",
            code="payment_provider_error",
        ) from None
    url = getattr(session, "url", None)
    if not url:
        raise BadGateway(
            "The payment provider gave no checkout page.", code="payment_provider_error"
        )
    return str(url)
