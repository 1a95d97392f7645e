from __future__ import annotations

from townhall.core.errors import Unauthorized
from townhall.identity.models import Commenter
from townhall.identity.tokens import BadToken, read_any_token


def access_commenter(token: str, *, site_id: int) -> Commenter:
    """The commenter a token names on this site; Unauthorized for a bad, expired or revoked one.

    Takes a guest's edit token or a signed-in reader's session token alike.
    """
    try:
        claim = read_any_token(token)
    except BadToken as error:
        code = "token_expired" if error.expired else "invalid_token"
        raise Unauthorized(str(error), code=code) from None
    commenter = Commenter.objects.filter(pk=claim.commenter_id, site_id=site_id).first()
    if commenter is None:
        raise Unauthorized("The token is not valid for this site.", code="invalid_token")
    if claim.kind == "session":
        if commenter.session_version != claim.session_version:
            raise Unauthorized("This session has been signed out.", code="session_revoked")
    elif commenter.token_nonce != claim.nonce:
        raise Unauthorized("The token is not valid for this site.", code="invalid_token")
    return commenter


def access_signed_in_commenter(token: str | None, *, site_id: int) -> Commenter:
    """Like ``access_commenter``, for what only a token of the reader's own may do (their data):
    Unauthorized without one."""
    if not token:
        raise Unauthorized("Sign in first.", code="not_signed_in")
    return access_commenter(token, site_id=site_id)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, if there is one."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
