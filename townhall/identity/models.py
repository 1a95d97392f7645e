from __future__ import annotations

import secrets

from django.db import models


def _new_token_nonce() -> str:
    return secrets.token_urlsafe(12)


class CommenterKind(models.TextChoices):
    GUEST = "guest", "Guest (name and optional email)"


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
    # Gave to a campaign of the site and asked for the supporter badge (townhall.support).
    supporter = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.display_name} ({self.kind})"
