"""Reader support in the public API: campaigns and their goal bar, starting a checkout, and
Stripe's webhook."""

from __future__ import annotations

import hashlib

import orjson
from django.http import HttpRequest, HttpResponse
from django.utils.cache import get_conditional_response
from ninja import Query, Router

from townhall.core.clients import client_fingerprint
from townhall.core.ratelimit import enforce_rate
from townhall.discussions.schemas import ErrorOut
from townhall.identity.queries import access_commenter, bearer_token
from townhall.sites.guards import check_write_origin
from townhall.sites.queries import access_site
from townhall.support import checkout, queries, webhooks
from townhall.support.html import render_campaign
from townhall.support.schemas import (
    CampaignHtmlQuery,
    CampaignListOut,
    CampaignListQuery,
    CampaignOut,
    CheckoutIn,
    CheckoutOut,
    WebhookOut,
)

router = Router(tags=["support"])

READ_ERRORS = {404: ErrorOut, 422: ErrorOut}
CHECKOUT_ERRORS = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    422: ErrorOut,
    429: ErrorOut,
    502: ErrorOut,
}
WEBHOOK_OPENAPI = {
    "requestBody": {
        "required": True,
        "description": "A Stripe event as Stripe sent it (the signature covers its bytes).",
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
    "parameters": [
        {
            "in": "header",
            "name": "Stripe-Signature",
            "required": True,
            "schema": {"type": "string"},
            "description": '`t=<unix time>,v1=<HMAC-SHA256 of "<t>.<body>">`',
        }
    ],
}
# Browsers and CDNs revalidate every time (a 304 while nothing changed), so the figure a reader
# sees moves as soon as a contribution settles or is refunded.
CACHE_CONTROL = "public, max-age=0, must-revalidate"


@router.get("/campaigns", response={200: CampaignListOut, **READ_ERRORS})
def list_campaigns(request: HttpRequest, params: Query[CampaignListQuery]):
    """The site's running campaigns, newest first; with `prompt=true` only those that ask for
    support after a reader posts (the widget asks this after a post)."""
    site = access_site(params.site)
    found = queries.site_campaigns(site, active_only=True, prompt=params.prompt)
    return {"campaigns": [queries.present_campaign(campaign) for campaign in found]}


@router.get("/campaigns/{site}/{slug}", response={200: CampaignOut, 304: None, **READ_ERRORS})
def get_campaign(request: HttpRequest, site: str, slug: str) -> HttpResponse:
    """A campaign's goal, amount raised and how to give. `ETag`/`If-None-Match` → `304`."""
    campaign = queries.access_campaign(access_site(site), slug)
    body = orjson.dumps(CampaignOut(**queries.present_campaign(campaign)).model_dump(mode="json"))
    return _revalidated(request, body, "application/json")


CAMPAIGN_HTML_OPENAPI = {
    "responses": {
        200: {
            "description": "The goal bar as an HTML fragment (`text/html; charset=utf-8`).",
            "content": {"text/html": {"schema": {"type": "string"}}},
        }
    }
}


@router.get(
    "/campaigns/{site}/{slug}/html",
    response={200: None, 304: None, **READ_ERRORS},
    openapi_extra=CAMPAIGN_HTML_OPENAPI,
)
def get_campaign_html(
    request: HttpRequest, site: str, slug: str, params: Query[CampaignHtmlQuery]
) -> HttpResponse:
    """The goal bar rendered on the server: a `<section class="townhall-campaign">` with ticks
    at 0, half and the goal, the amount raised, a `role="progressbar"` element (aria values in
    whole major units, `aria-valuetext` the formatted amount) and the Support link. Amounts are
    written for `lang` by Babel. Everything is escaped; the fragment holds no script."""
    campaign = queries.access_campaign(access_site(site), slug)
    body = render_campaign(campaign, params.lang).encode()
    response = _revalidated(request, body, "text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
    return response


@router.post("/campaigns/{site}/{slug}/checkout", response={200: CheckoutOut, **CHECKOUT_ERRORS})
def start_checkout(request: HttpRequest, site: str, slug: str, data: CheckoutIn):
    """Starts a contribution: returns the URL to send the reader to (a Stripe Checkout page,
    the campaign's donation page, or the test checkout of a demo campaign). With
    `Authorization: Bearer <edit token>` the contribution is linked to the reader's identity,
    for the opt-in supporter badge; the amount is never shown to anyone."""
    campaign = queries.access_campaign(access_site(site), slug)
    check_write_origin(request, campaign.site)
    enforce_rate(
        request,
        group=f"checkout:{campaign.site_id}",
        value=client_fingerprint(request),
        rate=checkout.CHECKOUT_RATE,
    )
    token = bearer_token(request.headers.get("Authorization"))
    commenter = access_commenter(token, site_id=campaign.site_id) if token else None
    url = checkout.start_checkout(
        campaign,
        amount=data.amount,
        return_url=data.return_url,
        commenter=commenter,
        show_badge=data.show_badge,
    )
    return {"url": url}


@router.post(
    "/stripe/webhook/{site}",
    response={200: WebhookOut, 400: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    openapi_extra=WEBHOOK_OPENAPI,
)
def stripe_webhook(request: HttpRequest, site: str):
    """Stripe's webhook for one site (set its URL and signing secret in Stripe's dashboard).
    Events are verified with the site's `stripe_webhook_secret` (`400 invalid_signature` for a
    missing, forged or over-5-minutes-old signature; nothing is counted) and applied once
    however often they are delivered."""
    found = access_site(site)
    event = webhooks.verify_stripe_event(
        found, request.body, request.headers.get("Stripe-Signature")
    )
    return {"received": True, "outcome": webhooks.do_handle_stripe_event(found, event)}


def _revalidated(request: HttpRequest, body: bytes, content_type: str) -> HttpResponse:
    etag = '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
    response = get_conditional_response(request, etag=etag) or HttpResponse(
        body, content_type=content_type
    )
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response
