"""Commenter tokens: signed, expiring, revocable; nothing secret is stored server-side.

Two kinds, each Django's signing with a salt of its own, so a token made for one purpose (or
another part of Townhall) with the same key can never pass as the other:

- the **edit token** of a guest, ``{"c": commenter_id, "n": nonce}``, kept for a year in the
  reader's browser; rotating ``Commenter.token_nonce`` revokes every one issued;
- the **session token** of a signed-in reader, ``{"c": commenter_id, "v": session_version}``,
  valid for ``SESSION_MAX_AGE_SECONDS``; bumping ``Commenter.session_version`` (sign out
  everywhere, deletion) revokes every one issued.

Both travel in ``Authorization: Bearer …`` and are accepted wherever the other is
(``identity.queries.access_commenter``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core import signing

from townhall.identity.models import Commenter

SALT = "townhall.identity.commenter"
SESSION_SALT = "townhall.identity.session"
MAX_AGE_SECONDS = 365 * 24 * 3600
SESSION_MAX_AGE_SECONDS = 30 * 24 * 3600


class BadToken(Exception):
    def __init__(self, message: str, *, expired: bool = False):
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True)
class TokenClaim:
    commenter_id: int
    kind: str  # "edit" or "session"
    nonce: str = ""
    session_version: int = 0


def make_commenter_token(commenter: Commenter) -> str:
    return signing.dumps({"c": commenter.pk, "n": commenter.token_nonce}, salt=SALT, compress=True)


def make_session_token(commenter: Commenter) -> str:
    return signing.dumps(
        {"c": commenter.pk, "v": commenter.session_version}, salt=SESSION_SALT, compress=True
    )


def read_commenter_token(token: str) -> tuple[int, str]:
    """(commenter id, nonce) from an edit token; BadToken when forged, malformed or expired."""
    payload = _load(token, salt=SALT, max_age=MAX_AGE_SECONDS)
    return payload["c"], str(payload.get("n", ""))


def read_any_token(token: str) -> TokenClaim:
    """What an edit token or a session token claims; BadToken when it is neither."""
    try:
        payload = _load(token, salt=SESSION_SALT, max_age=SESSION_MAX_AGE_SECONDS)
    except BadToken as error:
        if error.expired:
            raise
    else:
        version = payload.get("v")
        if not isinstance(version, int):
            raise BadToken("The token is not valid.")
        return TokenClaim(payload["c"], "session", session_version=version)
    commenter_id, nonce = read_commenter_token(token)
    return TokenClaim(commenter_id, "edit", nonce=nonce)


def _load(token: str, *, salt: str, max_age: int) -> dict:
    try:
        payload = signing.loads(token, salt=salt, max_age=max_age)
    except signing.SignatureExpired:
        raise BadToken("The token has expired.", expired=True) from None
    except signing.BadSignature:
        raise BadToken("The token is not valid.") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("c"), int):
        raise BadToken("The token is not valid.")
    return payload
