"""Signed, unguessable links in notification emails.

Each token is Django's signing of the subscriber's id and nonce with a salt per purpose, so a
confirmation link cannot be used to unsubscribe and the reverse. Rotating the subscriber's
nonce voids every link sent before.
"""

from __future__ import annotations

from django.core import signing

from townhall.notifications.models import Subscriber

CONFIRM = "townhall.notifications.confirm"
MANAGE = "townhall.notifications.manage"  # the manage page and unsubscribing
CONFIRM_MAX_AGE = 7 * 24 * 3600
MANAGE_MAX_AGE = 400 * 24 * 3600


class BadLink(Exception):
    pass


def make_token(subscriber: Subscriber, purpose: str, **extra: int) -> str:
    return signing.dumps({"s": subscriber.pk, "n": subscriber.token_nonce, **extra}, salt=purpose)


def read_token(token: str, purpose: str) -> dict:
    max_age = CONFIRM_MAX_AGE if purpose == CONFIRM else MANAGE_MAX_AGE
    try:
        payload = signing.loads(token, salt=purpose, max_age=max_age)
    except signing.BadSignature:  # includes SignatureExpired
        raise BadLink("This link is not valid, or it has expired.") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("s"), int):
        raise BadLink("This link is not valid.")
    return payload


def access_subscriber(token: str, purpose: str) -> tuple[Subscriber, dict]:
    payload = read_token(token, purpose)
    subscriber = Subscriber.objects.select_related("site").filter(pk=payload["s"]).first()
    if subscriber is None or subscriber.token_nonce != payload.get("n"):
        raise BadLink("This link is no longer valid.")
    return subscriber, payload
