from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from townhall.core.db import insert
from townhall.core.errors import BadRequest, Forbidden, Unauthorized
from townhall.identity.magic import MAX_AGE_SECONDS as MAGIC_MAX_AGE_SECONDS
from townhall.identity.magic import read_magic_token
from townhall.identity.models import Commenter, CommenterKind, UsedSignInToken
from townhall.identity.sso import MODERATOR_ROLE, verify_sso_token
from townhall.sites.models import Site

GUEST_NAME_PLACEHOLDER = "Anonymous"  # what discussions write for a guest who gave no name


def check_guest_allowed(site: Site, *, display_name: str, email: str) -> None:
    """The site's rules for guests: whether they may comment, and what they must give."""
    if not site.signin_guest:
        raise Forbidden("Sign in to comment on this site.", code="guest_not_allowed")
    if site.guest_requires_name and display_name in ("", GUEST_NAME_PLACEHOLDER):
        raise BadRequest("Give a name to comment.", code="name_required", field="author_name")
    if site.guest_requires_email and not email:
        raise BadRequest("Give an email to comment.", code="email_required", field="author_email")


def do_create_guest(site: Site, *, display_name: str, email: str = "") -> Commenter:
    """Creates a guest commenter. Caller holds the transaction that also writes the comment.

    Written with one lean INSERT (``core.db``): a new guest comes with most posts, inside the
    transaction that holds SQLite's write lock. Raises when the site's guest rules refuse.
    """
    check_guest_allowed(site, display_name=display_name, email=email)
    commenter = Commenter(
        site=site, kind=CommenterKind.GUEST, display_name=display_name, email=email
    )
    insert(commenter)
    return commenter


def do_update_guest(commenter: Commenter, *, display_name: str, email: str) -> None:
    """Keeps a returning guest's name and email as they last gave them (a signed-in reader's
    come from their sign-in)."""
    if commenter.is_signed_in:
        return
    if (commenter.display_name, commenter.email) != (display_name, email):
        commenter.display_name = display_name
        commenter.email = email
        commenter.save(update_fields=["display_name", "email"])


def _spend(site: Site, kind: str, key: str, expires: datetime) -> None:
    """Records a sign-in token as used; Unauthorized when it was already. Caller holds the
    transaction."""
    UsedSignInToken.objects.filter(expires__lt=timezone.now()).delete()
    try:
        with transaction.atomic():
            UsedSignInToken.objects.create(site=site, kind=kind, key=key, expires=expires)
    except IntegrityError:
        raise Unauthorized(
            "This sign-in token was used already.",
            code="sso_token_replayed" if kind == "sso" else "link_used",
        ) from None


def do_sign_in_sso(site: Site, token: str) -> Commenter:
    """Signs a reader in by the publisher's JWT: verified (``sso.verify_sso_token``), spent
    (its ``jti`` once), then linked to the one identity of (site, sub), whose name, email and
    avatar follow the claims. A ``moderator`` role makes (or keeps) the identity's staff account
    a moderator of the site; without it, that account stops moderating it."""
    claims = verify_sso_token(site, token)
    now = timezone.now()
    with transaction.atomic():
        _spend(site, "sso", claims.jti, claims.expires)
        commenter = (
            Commenter.objects.select_for_update().filter(site=site, external_id=claims.sub).first()
        )
        if commenter is None:
            commenter = Commenter(site=site, kind=CommenterKind.SSO, external_id=claims.sub)
        commenter.kind = CommenterKind.SSO
        commenter.display_name = claims.name
        commenter.avatar_url = claims.avatar_url
        if claims.email != commenter.email:
            commenter.email = claims.email
            commenter.email_confirmed = None
        if claims.email and site.sso_trust_email:
            commenter.email_confirmed = now
        commenter.save()
        _sync_moderator(commenter, MODERATOR_ROLE in claims.roles)
    return commenter


def _sync_moderator(commenter: Commenter, moderator: bool) -> None:
    from townhall.moderation.actions import do_add_moderator, do_remove_moderator

    user = commenter.staff_user
    if moderator:
        if user is None:
            user = get_user_model().objects.create_user(
                f"sso-{commenter.site_id}-{commenter.pk}", email=commenter.email
            )  # no password: this account signs in only through the publisher (POST /moderate/sso/)
            commenter.staff_user = user
            commenter.save(update_fields=["staff_user"])
        elif user.email != commenter.email:
            user.email = commenter.email
            user.save(update_fields=["email"])
        do_add_moderator(user, commenter.site)
    elif user is not None:
        do_remove_moderator(user, commenter.site)


def do_request_magic_link(site: Site, *, email: str, name: str, return_url: str) -> None:
    """Queues the email with a sign-in link to ``return_url`` (checked to be on the site's
    origins by the caller). The link is made by the worker, so no token waits in the queue."""
    from townhall.identity.tasks import send_magic_link

    transaction.on_commit(lambda: send_magic_link.enqueue(site.pk, email, name, return_url))


def do_sign_in_by_link(site: Site, token: str) -> Commenter:
    """Signs a reader in by a magic link's token (once): the identity of that email on the
    site, created on first use; its email counts as confirmed."""
    claims = read_magic_token(site, token)
    now = timezone.now()
    with transaction.atomic():
        _spend(site, "magic", claims.nonce, now + timedelta(seconds=MAGIC_MAX_AGE_SECONDS))
        commenter = (
            Commenter.objects.select_for_update()
            .filter(site=site, kind=CommenterKind.EMAIL, email__iexact=claims.email)
            .first()
        )
        if commenter is None:
            commenter = Commenter(
                site=site,
                kind=CommenterKind.EMAIL,
                email=claims.email,
                display_name=claims.name or "Reader",
            )
        elif claims.name:
            commenter.display_name = claims.name
        commenter.email_confirmed = now
        commenter.save()
    return commenter


def do_sign_out_everywhere(commenter: Commenter) -> None:
    """Revokes every session token of the reader issued so far."""
    with transaction.atomic():
        Commenter.objects.filter(pk=commenter.pk).update(session_version=F("session_version") + 1)
    commenter.refresh_from_db(fields=["session_version"])
