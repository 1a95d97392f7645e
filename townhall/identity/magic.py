"""Magic-link tokens: signed, single use, short-lived.

A token is Django's signing (own salt) of ``{"s": site id, "e": email, "m": name, "n": nonce}``.
It travels only in a link's fragment (``return_url#townhall-signin=<token>``), which browsers
never send to a server, so it reaches no access log; the widget posts it to
``/api/v1/auth/magic-link/verify``, which records the nonce as used.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.core import signing

from townhall.core.errors import Unauthorized
from townhall.sites.models import Site

SALT = "townhall.identity.magic-link"
MAX_AGE_SECONDS = 15 * 60
FRAGMENT_KEY = "townhall-signin"


@dataclass(frozen=True)
class MagicClaims:
    site_id: int
    email: str
    name: str
    nonce: str


def make_magic_token(site: Site, *, email: str, name: str = "") -> str:
    payload = {"s": site.pk, "e": email, "m": name, "n": secrets.token_urlsafe(16)}
    return signing.dumps(payload, salt=SALT, compress=True)


def read_magic_token(site: Site, token: str) -> MagicClaims:
    """What a link's token claims, for ``site``; Unauthorized when it is forged, expired or
    another site's. Does not check that it was not used (``actions.do_sign_in_by_link`` does)."""
    try:
        payload = signing.loads(token, salt=SALT, max_age=MAX_AGE_SECONDS)
    except signing.SignatureExpired:
        raise Unauthorized(
            "The sign-in link has expired; ask for a new one.", code="link_expired"
        ) from None
    except signing.BadSignature:
        raise Unauthorized("The sign-in link is not valid.", code="invalid_link") from None
    if not isinstance(payload, dict) or not all(k in payload for k in ("s", "e", "n")):
        raise Unauthorized("The sign-in link is not valid.", code="invalid_link")
    if payload["s"] != site.pk:
        raise Unauthorized("The sign-in link is for another site.", code="link_wrong_site")
    return MagicClaims(
        site_id=site.pk,
        email=str(payload["e"]),
        name=str(payload.get("m") or ""),
        nonce=str(payload["n"]),
    )
