"""Reader sign-in (magic link, publisher SSO) and each reader's own data, in the public API.

Everything here answers bearer tokens (``Authorization: Bearer …``), never cookies: the widget
runs in the publisher's page, where third-party cookies are blocked, and a header carries no
CSRF risk (docs/sso.md, "Why no cookies").
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

import orjson
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import HttpRequest, HttpResponse
from ninja import Router, Status

from townhall.core.clients import client_fingerprint
from townhall.core.errors import BadRequest, Forbidden
from townhall.core.ratelimit import enforce_rate
from townhall.discussions.schemas import ErrorOut
from townhall.identity import actions, app_settings, data
from townhall.identity.presenters import commenter_dict, signed_in
from townhall.identity.queries import access_commenter, access_signed_in_commenter, bearer_token
from townhall.identity.schemas import (
    AcceptedOut,
    ClaimIn,
    ClaimOut,
    CommenterOut,
    DeletedOut,
    DeleteMeIn,
    MagicLinkIn,
    SignedInOut,
    SignInTokenIn,
)
from townhall.sites.guards import check_write_origin
from townhall.sites.origins import InvalidOrigin, normalize_origin
from townhall.sites.queries import access_site

router = Router(tags=["identity"])

ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


@router.post("/auth/magic-link", response={202: AcceptedOut, **ERRORS, 429: ErrorOut})
def request_magic_link(request: HttpRequest, data_in: MagicLinkIn):
    """Emails a sign-in link. `202` whether or not the address is known (no enumeration)."""
    site = access_site(data_in.site)
    check_write_origin(request, site)
    if not site.signin_email:
        raise Forbidden("This site does not take sign-in by email.", code="email_not_enabled")
    email = data_in.email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise BadRequest(
            "That is not an email address.", code="invalid_email", field="email"
        ) from None
    try:
        origin = normalize_origin(_origin_of(data_in.return_url))
    except InvalidOrigin:
        origin = ""
    if not origin or not site.allows_origin(origin):
        raise BadRequest(
            "return_url is not on one of the site's pages.",
            code="bad_return_url",
            field="return_url",
        )
    enforce_rate(
        request,
        group=f"magic:{site.pk}",
        value=client_fingerprint(request),
        rate=app_settings.magic_link_rate_per_client(),
    )
    enforce_rate(
        request,
        group=f"magic-to:{site.pk}",
        value=hashlib.sha256(email.encode()).hexdigest(),
        rate=app_settings.magic_link_rate_per_address(),
    )
    actions.do_request_magic_link(
        site, email=email, name=" ".join(data_in.name.split()), return_url=data_in.return_url
    )
    return Status(202, {"status": "accepted"})


def _origin_of(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}"


@router.post("/auth/magic-link/verify", response={200: SignedInOut, **ERRORS})
def verify_magic_link(request: HttpRequest, data_in: SignInTokenIn):
    """Signs in by the token of an emailed link (once, within 15 minutes)."""
    site = access_site(data_in.site)
    check_write_origin(request, site)
    if not site.signin_email:
        raise Forbidden("This site does not take sign-in by email.", code="email_not_enabled")
    return signed_in(actions.do_sign_in_by_link(site, data_in.token))


@router.post("/auth/sso", response={200: SignedInOut, **ERRORS})
def sso_sign_in(request: HttpRequest, data_in: SignInTokenIn):
    """Signs in by a JWT the publisher's server signed (docs/sso.md)."""
    site = access_site(data_in.site)
    check_write_origin(request, site)
    return signed_in(actions.do_sign_in_sso(site, data_in.token))


@router.post("/auth/sign-out-everywhere", response={204: None, **ERRORS})
def sign_out_everywhere(request: HttpRequest, site: str):
    """Revokes every session token of the signed-in reader."""
    the_site = access_site(site)
    check_write_origin(request, the_site)
    commenter = access_signed_in_commenter(_token(request), site_id=the_site.pk)
    actions.do_sign_out_everywhere(commenter)
    return Status(204, None)


@router.get("/me", response={200: CommenterOut, **ERRORS})
def me(request: HttpRequest, site: str):
    """The reader the bearer token names (an edit token or a session token)."""
    the_site = access_site(site)
    return commenter_dict(access_signed_in_commenter(_token(request), site_id=the_site.pk))


@router.post("/me/claim", response={200: ClaimOut, **ERRORS})
def claim(request: HttpRequest, data_in: ClaimIn):
    """Moves to the signed-in identity the comments of this site's guest identities with its
    confirmed email, and of the guest whose edit token is given."""
    site = access_site(data_in.site)
    check_write_origin(request, site)
    commenter = access_signed_in_commenter(_token(request), site_id=site.pk)
    guest = access_commenter(data_in.edit_token, site_id=site.pk) if data_in.edit_token else None
    return {"claimed": data.do_claim_guest_comments(commenter, guest=guest)}


@router.get("/me/export", response={200: dict, **ERRORS})
def export(request: HttpRequest, site: str):
    """Everything Townhall holds about the reader on this site, as a JSON download."""
    the_site = access_site(site)
    commenter = access_signed_in_commenter(_token(request), site_id=the_site.pk)
    response = HttpResponse(
        orjson.dumps(data.export_commenter(commenter), option=orjson.OPT_INDENT_2),
        content_type="application/json",
    )
    response["Content-Disposition"] = f'attachment; filename="townhall-{the_site.slug}-me.json"'
    response["Cache-Control"] = "no-store"
    return response


@router.delete("/me", response={200: DeletedOut, **ERRORS})
def delete_me(request: HttpRequest, site: str, data_in: DeleteMeIn):
    """Deletes the reader: their comments by the site's policy, their votes, subscriptions and
    identity. Needs `{"confirm": true}`."""
    the_site = access_site(site)
    check_write_origin(request, the_site)
    if not data_in.confirm:
        raise BadRequest("Confirm the deletion with confirm: true.", code="confirm_required")
    commenter = access_signed_in_commenter(_token(request), site_id=the_site.pk)
    return data.do_delete_commenter(commenter)


def _token(request: HttpRequest) -> str | None:
    return bearer_token(request.headers.get("Authorization"))
