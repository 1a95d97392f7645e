"""Publisher sign-in (SSO): a JWT the publisher's server signed, checked against the site.

The algorithm is the site's (``Site.sso_algorithm``), never the token header's: a token that
names another (``none``, or HS256 signed with an RS256 site's public key as the secret) fails.
Required claims: ``sub``, ``exp``, ``jti`` (each token signs in once); ``aud``, when present,
must be the site's slug; ``iat``, when present, not in the future. See docs/sso.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from townhall.core.errors import Forbidden, Unauthorized
from townhall.sites.models import Site, SsoAlgorithm

LEEWAY_SECONDS = 30
# A token lives minutes (docs/sso.md); one valid for longer than this is refused, which also
# bounds how long its ``jti`` is kept.
MAX_LIFETIME_SECONDS = 24 * 3600
MAX_NAME_CHARS = 80
MODERATOR_ROLE = "moderator"


@dataclass(frozen=True)
class SsoClaims:
    sub: str
    jti: str
    expires: datetime
    name: str
    email: str
    avatar_url: str
    roles: frozenset[str] = field(default_factory=frozenset)


def verify_sso_token(site: Site, token: str) -> SsoClaims:
    """The claims of a publisher's token for ``site``; Unauthorized (``invalid_sso_token``,
    ``sso_token_expired``, ``sso_wrong_site``) when it does not hold, Forbidden when the site
    does not take SSO sign-in. Does not check replay (``actions.do_sign_in_sso`` does)."""
    if not site.signin_sso:
        raise Forbidden("This site does not take publisher sign-in.", code="sso_not_enabled")
    key = site.sso_secret if site.sso_algorithm == SsoAlgorithm.HS256 else site.sso_public_key
    if not key:
        raise Forbidden("Publisher sign-in is not set up on this site.", code="sso_not_enabled")
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=[site.sso_algorithm],
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "sub", "jti"], "verify_aud": False},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("The sign-in token has expired.", code="sso_token_expired") from None
    except jwt.ImmatureSignatureError:
        raise Unauthorized(
            "The sign-in token is issued in the future.", code="invalid_sso_token"
        ) from None
    except jwt.MissingRequiredClaimError as error:
        raise Unauthorized(
            f"The sign-in token has no {error.claim!r} claim.", code="invalid_sso_token"
        ) from None
    except jwt.InvalidTokenError:
        raise Unauthorized(
            "The sign-in token is not valid for this site.", code="invalid_sso_token"
        ) from None
    _check_audience(site, payload.get("aud"))
    return _claims(payload)


def _check_audience(site: Site, audience: Any) -> None:
    if audience is None:
        return
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list) or site.slug not in audiences:
        raise Unauthorized("The sign-in token is for another site.", code="sso_wrong_site")


def _claims(payload: dict[str, Any]) -> SsoClaims:
    sub, jti, exp = payload["sub"], payload["jti"], payload["exp"]
    if not isinstance(sub, str) or not sub.strip() or len(sub) > 255:
        raise Unauthorized("The sign-in token's 'sub' is not valid.", code="invalid_sso_token")
    if not isinstance(jti, str) or not jti.strip() or len(jti) > 255:
        raise Unauthorized("The sign-in token's 'jti' is not valid.", code="invalid_sso_token")
    expires = datetime.fromtimestamp(int(exp), tz=UTC)
    if (expires - datetime.now(tz=UTC)).total_seconds() > MAX_LIFETIME_SECONDS:
        raise Unauthorized(
            "The sign-in token lives too long (24 hours at most; minutes are enough).",
            code="invalid_sso_token",
        )
    roles = payload.get("roles") or []
    if isinstance(roles, str):
        roles = [roles]
    return SsoClaims(
        sub=sub.strip(),
        jti=jti.strip(),
        expires=expires,
        name=_text(payload.get("name"))[:MAX_NAME_CHARS] or "Reader",
        email=_email(payload.get("email")),
        avatar_url=_avatar(payload.get("avatar")),
        roles=frozenset(str(role) for role in roles if isinstance(role, str)),
    )


def _text(value: Any) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


def _email(value: Any) -> str:
    email = _text(value).lower()
    if not email or len(email) > 254:
        return ""
    try:
        validate_email(email)
    except ValidationError:
        return ""
    return email


def _avatar(value: Any) -> str:
    url = _text(value)
    # Only http(s): a javascript: or data: URL must never reach an <img src>.
    if len(url) > 500 or not url.lower().startswith(("https://", "http://")):
        return ""
    return url
