"""Commenter tokens: signed, expiring, revocable; nothing secret is stored server-side.

A token is Django's signing of ``{"c": commenter_id, "n": nonce}`` with a salt of its own, so a
token made for another purpose with the same key can never pass as one.
"""

from __future__ import annotations

from django.core import signing

from townhall.identity.models import Commenter

SALT = "townhall.identity.commenter"
MAX_AGE_SECONDS = 365 * 24 * 3600


class BadToken(Exception):
    def __init__(self, message: str, *, expired: bool = False):
        super().__init__(message)
        self.expired = expired


def make_commenter_token(commenter: Commenter) -> str:
    return signing.dumps({"c": commenter.pk, "n": commenter.token_nonce}, salt=SALT, compress=True)


def read_commenter_token(token: str) -> tuple[int, str]:
    """(commenter id, nonce) from a token; BadToken when it is forged, malformed or expired."""
    try:
        payload = signing.loads(token, salt=SALT, max_age=MAX_AGE_SECONDS)
    except signing.SignatureExpired:
        raise BadToken("The token has expired.", expired=True) from None
    except signing.BadSignature:
        raise BadToken("The token is not valid.") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("c"), int):
        raise BadToken("The token is not valid.")
    return payload["c"], str(payload.get("n", ""))
