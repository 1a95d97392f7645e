"""Signed links to the test checkout: what the reader chose, unforgeable, for an hour."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.core import signing

from townhall.support import app_settings

SALT = "townhall.support.test-checkout"


class BadToken(Exception):
    pass


@dataclass(frozen=True)
class TestCheckout:
    campaign_id: int
    amount: int
    return_url: str
    commenter_id: int | None
    show_badge: bool
    nonce: str  # the contribution's external id: paying twice from one link counts once


def make_test_checkout_token(
    *, campaign_id: int, amount: int, return_url: str, commenter_id: int | None, show_badge: bool
) -> str:
    payload = {
        "c": campaign_id,
        "a": amount,
        "r": return_url,
        "m": commenter_id,
        "b": show_badge,
        "n": secrets.token_urlsafe(12),
    }
    return signing.dumps(payload, salt=SALT, compress=True)


def read_test_checkout_token(token: str) -> TestCheckout:
    try:
        data = signing.loads(token, salt=SALT, max_age=app_settings.test_checkout_seconds())
    except signing.SignatureExpired:
        raise BadToken("This test checkout link has expired; start again.") from None
    except signing.BadSignature:
        raise BadToken("This is not a valid test checkout link.") from None
    return TestCheckout(
        campaign_id=int(data["c"]),
        amount=int(data["a"]),
        return_url=str(data["r"]),
        commenter_id=int(data["m"]) if data.get("m") is not None else None,
        show_badge=bool(data["b"]),
        nonce=str(data["n"]),
    )
