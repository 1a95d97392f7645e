from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models


def _new_token_nonce() -> str:
    return secrets.token_urlsafe(12)


class CommenterKind(models.TextChoices):
    GUEST = "guest", "Guest (name and optional email)"
    EMAIL = "email", "Signed in by an emailed link"
    SSO = "sso", "Signed in through the publisher's login"


class Commenter(models.Model):
    """Who wrote a comment or cast a vote on one site.

    A guest is identified by a signed token kept in their browser; it lets its holder edit or
    delete their own comments within the site's edit window. Rotating ``token_nonce`` revokes
    every token issued so far.
    """

    site = models.ForeignKey("townhall_sites.Site", on_delete=models.CASCADE)
    kind = models.CharField(
        max_length=16, choices=CommenterKind.choices, default=CommenterKind.GUEST
    )
    display_name = models.CharField(max_length=80)
    email = models.EmailField(blank=True, default="")
    token_nonce = models.CharField(max_length=32, default=_new_token_nonce)
    # The SSO token's ``sub``: one identity per (site, sub). Blank for guests and email sign-in.
    external_id = models.CharField(max_length=255, blank=True, default="")
    # When the email was last proven (a magic link followed, or a trusted SSO claim).
    email_confirmed = models.DateTimeField(null=True, blank=True)
    avatar_url = models.URLField(max_length=500, blank=True, default="")
    # Session tokens carry it; bumping it signs the reader out everywhere.
    session_version = models.PositiveIntegerField(default=1)
    # The staff account an SSO "moderator" role gave this reader (identity/sso.py).
    staff_user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="commenter",
    )
    # Gave to a campaign of the site and asked for the supporter badge (townhall.support).
    supporter = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["site", "external_id"],
                condition=~models.Q(external_id=""),
                name="one_identity_per_sso_subject",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.kind})"

    @property
    def is_signed_in(self) -> bool:
        return self.kind != CommenterKind.GUEST


class UsedSignInToken(models.Model):
    """A magic link's nonce or an SSO token's ``jti`` already spent: each signs in once.

    Kept until the token would have expired anyway (``expires``); older rows are pruned.
    """

    site = models.ForeignKey("townhall_sites.Site", on_delete=models.CASCADE)
    kind = models.CharField(max_length=8)  # "magic" or "sso"
    key = models.CharField(max_length=255)
    expires = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "kind", "key"], name="sign_in_token_once"),
        ]

    def __str__(self) -> str:
        return f"used {self.kind} token"
