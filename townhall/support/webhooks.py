"""Stripe's webhook: each event verified by its signature, then handled exactly once.

``checkout.session.completed`` records the contribution (settled when ``payment_status`` is
"paid", pending when "unpaid"); ``checkout.session.async_payment_succeeded`` settles a pending
one; ``charge.refunded`` sets the refunded amount of the contribution paid by that
PaymentIntent. Every other type is recorded and ignored.

Exactly once: the event's ``StripeEvent`` row is inserted in the transaction of its effect. A
redelivery finds it; two deliveries at once both insert, and the second waits on the unique
index until the first commits, then fails and changes nothing. Either way Stripe is answered
200, so it stops retrying.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import stripe
from django.db import IntegrityError, transaction

from townhall.core.errors import BadRequest
from townhall.identity.models import Commenter
from townhall.sites.models import Site
from townhall.support.actions import (
    do_record_contribution,
    do_refund_contribution,
    do_settle_contribution,
)
from townhall.support.models import (
    Campaign,
    Contribution,
    ContributionSource,
    ContributionStatus,
    StripeEvent,
)

logger = logging.getLogger(__name__)

DUPLICATE = "duplicate"
IGNORED = "ignored"


def verify_stripe_event(site: Site, payload: bytes, signature: str | None) -> dict[str, Any]:
    """The event of a webhook request whose ``Stripe-Signature`` is the site's and recent
    (5 minutes, Stripe's default tolerance); BadRequest ``invalid_signature`` otherwise."""
    # The check ``stripe.Webhook.construct_event`` makes, without building the library's event
    # object (which fails with an AttributeError on a signed body that is not a JSON object).
    try:
        stripe.WebhookSignature.verify_header(
            payload, signature, site.stripe_webhook_secret or None, stripe.Webhook.DEFAULT_TOLERANCE
        )
    except (stripe.SignatureVerificationError, UnicodeDecodeError):
        raise BadRequest(
            "The Stripe-Signature header does not verify (wrong secret, altered or old).",
            code="invalid_signature",
        ) from None
    try:
        event = json.loads(payload)
    except ValueError:
        raise BadRequest("The event is not JSON.", code="invalid_event") from None
    data = event.get("data") if isinstance(event, dict) else None
    if (
        not isinstance(data, dict)
        or not isinstance(event.get("id"), str)
        or not isinstance(event.get("type"), str)
        or not isinstance(data.get("object"), dict)
    ):
        raise BadRequest("The event has no id, type or object.", code="invalid_event")
    return event


def do_handle_stripe_event(site: Site, event: dict[str, Any]) -> str:
    """Applies a verified event once and returns what was done: "settled", "pending",
    "refunded", "duplicate", "ignored" or "unknown_payment"."""
    event_id, kind = event["id"][:255], event["type"][:100]
    if StripeEvent.objects.filter(site=site, event_id=event_id).exists():
        return DUPLICATE
    try:
        with transaction.atomic():
            record = StripeEvent.objects.create(site=site, event_id=event_id, type=kind)
            outcome = _apply(site, kind, event["data"]["object"])
            StripeEvent.objects.filter(pk=record.pk).update(outcome=outcome)
    except IntegrityError:
        if StripeEvent.objects.filter(site=site, event_id=event_id).exists():
            return DUPLICATE
        raise
    logger.info("Stripe event %s (%s) for site %s: %s", event_id, kind, site.slug, outcome)
    return outcome


def _apply(site: Site, kind: str, obj: dict[str, Any]) -> str:
    if kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        return _session_paid_or_pending(site, obj)
    if kind == "charge.refunded":
        return _charge_refunded(site, obj)
    return IGNORED


def _session_paid_or_pending(site: Site, session: dict[str, Any]) -> str:
    metadata = session.get("metadata") or {}
    campaign = _campaign(site, metadata)
    paid = session.get("payment_status") == "paid"
    if campaign is None or session.get("payment_status") not in ("paid", "unpaid"):
        return IGNORED
    amount = session.get("amount_total")
    if not isinstance(session.get("id"), str) or not isinstance(session.get("currency"), str):
        return IGNORED
    if not isinstance(amount, int):
        return IGNORED
    intent = _id_of(session.get("payment_intent"))
    try:
        recorded = do_record_contribution(
            campaign,
            amount=amount,
            currency=session["currency"],
            source=ContributionSource.STRIPE,
            status=ContributionStatus.SETTLED if paid else ContributionStatus.PENDING,
            external_id=session["id"],
            payment_intent=intent,
            commenter=_commenter(campaign, metadata),
            show_badge=metadata.get("show_badge") == "1",
        )
    except BadRequest as error:
        # Stripe would deliver it again and again: record it as seen, say why in the log.
        logger.warning("Stripe session for campaign %s not counted: %s", campaign.pk, error.code)
        return IGNORED
    contribution = recorded.contribution
    if paid and contribution.status == ContributionStatus.PENDING:
        contribution = do_settle_contribution(contribution, payment_intent=intent)
    return str(contribution.status)


def _charge_refunded(site: Site, charge: dict[str, Any]) -> str:
    intent = _id_of(charge.get("payment_intent"))
    refunded = charge.get("amount_refunded")
    if not intent or not isinstance(refunded, int):
        return IGNORED
    contribution = (
        Contribution.objects.filter(
            source=ContributionSource.STRIPE, payment_intent=intent, campaign__site=site
        )
        .select_related("campaign")
        .first()
    )
    if contribution is None:
        return "unknown_payment"
    do_refund_contribution(contribution, refunded_amount=refunded)
    return "refunded"


def _campaign(site: Site, metadata: dict[str, Any]) -> Campaign | None:
    """The campaign a session was started for, if it is this site's."""
    try:
        campaign_id = int(metadata.get("campaign", ""))
    except (TypeError, ValueError):
        return None
    return Campaign.objects.filter(pk=campaign_id, site=site).first()


def _commenter(campaign: Campaign, metadata: dict[str, Any]) -> Commenter | None:
    try:
        commenter_id = int(metadata.get("commenter", ""))
    except (TypeError, ValueError):
        return None
    return Commenter.objects.filter(pk=commenter_id, site_id=campaign.site_id).first()


def _id_of(value: Any) -> str:
    """A Stripe reference: an id, or an expanded object with one."""
    if isinstance(value, dict):
        value = value.get("id")
    return value[:255] if isinstance(value, str) else ""
