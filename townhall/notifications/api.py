"""Subscribing to notifications. Answers never tell whether an address was subscribed before."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.http import HttpRequest
from ninja import Router, Status

from townhall.core.clients import client_fingerprint
from townhall.core.errors import BadRequest, RateLimited
from townhall.core.ratelimit import enforce_rate
from townhall.discussions.actions import do_open_thread
from townhall.discussions.models import Comment, Thread
from townhall.discussions.schemas import ErrorOut
from townhall.notifications import actions
from townhall.notifications.schemas import CancelIn, SubscribedOut, SubscribeIn
from townhall.sites.guards import check_write_origin
from townhall.sites.models import Site
from townhall.sites.queries import access_site

router = Router(tags=["notifications"])
ERRORS = {400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut, 429: ErrorOut}
ACCEPTED = (
    "If this address can receive notifications, they will come. "
    "The first time, we send a link to confirm the address."
)
CONFIRMATIONS_PER_ADDRESS = "3/h"
CONFIRMATIONS_PER_CLIENT = "10/h"


@router.post("/subscriptions", response={202: SubscribedOut, **ERRORS})
def subscribe(request: HttpRequest, data: SubscribeIn):
    """Follow an article's new comments, or the replies to one's own comments on it, by email.

    Always `202` with the same body for a valid request: a first-time address is sent a
    confirmation link and gets nothing else until it is followed.
    """
    site = access_site(data.site)
    check_write_origin(request, site)
    thread = do_open_thread(site, url=data.url, title=data.title)
    receipt = subscribe_from_request(
        request, site, email=data.email, thread=thread, kind=data.kind, frequency=data.frequency
    )
    return Status(202, {"status": "accepted", "message": ACCEPTED, "receipt": receipt})


@router.post("/subscriptions/cancel", response={204: None, **ERRORS})
def cancel_subscription(request: HttpRequest, data: CancelIn):
    """Undo a subscription made from this browser, with the receipt it was given."""
    actions.do_cancel_by_receipt(data.receipt)
    return Status(204, None)


def subscribe_from_request(
    request: HttpRequest,
    site: Site,
    *,
    email: str,
    thread: Thread,
    kind: str,
    comment: Comment | None = None,
    frequency: str | None = None,
) -> str:
    """Subscribes, and queues a confirmation when the address needs one; returns the receipt.

    Confirmations are limited per client (a 429, which says nothing about the address) and per
    address (silently: a 429 there would tell that the address was just used).
    """
    try:
        validate_email(email.strip())
    except ValidationError:
        raise BadRequest(
            "That is not an email address.", code="invalid_email", field="email"
        ) from None
    enforce_rate(
        request,
        group=f"confirm-client:{site.pk}",
        value=client_fingerprint(request),
        rate=CONFIRMATIONS_PER_CLIENT,
    )
    subscribed = actions.do_subscribe(
        site, email=email, thread=thread, kind=kind, comment=comment, frequency=frequency
    )
    if subscribed.needs_confirmation:
        # Keyed, like client fingerprints: the cache never holds a hash anyone could reverse by
        # hashing a list of addresses.
        address = hmac.new(
            settings.SECRET_KEY.encode(), actions.normalize_email(email).encode(), hashlib.blake2b
        ).hexdigest()[:32]
        try:
            enforce_rate(
                request,
                group=f"confirm-address:{site.pk}",
                value=address,
                rate=CONFIRMATIONS_PER_ADDRESS,
            )
        except RateLimited:
            return subscribed.receipt
        from townhall.notifications.tasks import send_confirmation

        subscriber_id = subscribed.subscriber.pk
        transaction.on_commit(lambda: send_confirmation.enqueue(subscriber_id))
    return subscribed.receipt
