from __future__ import annotations

from townhall.core.errors import Unauthorized
from townhall.identity.models import Commenter
from townhall.identity.tokens import BadToken, read_commenter_token


def access_commenter(token: str, *, site_id: int) -> Commenter:
    """The commenter a token names on this site; Unauthorized for a bad, expired or revoked one."""
    try:
        commenter_id, nonce = read_commenter_token(token)
    except BadToken as error:
        code = "token_expired" if error.expired else "invalid_token"
        raise Unauthorized(str(error), code=code) from None
    commenter = Commenter.objects.filter(pk=commenter_id, site_id=site_id).first()
    if commenter is None or commenter.token_nonce != nonce:
        raise Unauthorized("The token is not valid for this site.", code="invalid_token")
    return commenter


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, if there is one."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
