"""Moderation records: who moderates which site, reader reports, bans and the audit log.

What the pipeline decided about a comment lives on the comment (``Comment.moderation``), the
site's rules on the site (``Site.banned_words`` and the rest).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class SiteModerator(models.Model):
    """A staff account allowed to moderate one site. Superusers moderate every site."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="moderated_sites"
    )
    site = models.ForeignKey("townhall_sites.Site", on_delete=models.CASCADE)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "site"], name="moderator_once_per_site"),
        ]

    def __str__(self) -> str:
        return f"{self.user} moderates {self.site}"


class FlagReason(models.TextChoices):
    SPAM = "spam", "Spam"
    ABUSE = "abuse", "Abusive or hateful"
    OFF_TOPIC = "off_topic", "Off topic"
    OTHER = "other", "Something else"


class Flag(models.Model):
    """A reader's report of a comment. One per reader (token, else keyed client hash)."""

    comment = models.ForeignKey(
        "townhall_discussions.Comment", on_delete=models.CASCADE, related_name="flags"
    )
    reporter_key = models.CharField(max_length=40)
    reason = models.CharField(max_length=16, choices=FlagReason.choices)
    note = models.CharField(max_length=500, blank=True, default="")
    # Set when a moderator decided on the comment: the report was heard.
    resolved = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["comment", "reporter_key"], name="flag_once_per_reader"
            ),
        ]
        indexes = [models.Index(fields=["comment", "resolved"], name="flag_open")]

    def __str__(self) -> str:
        return f"{self.reason} flag on comment {self.comment_id}"


class BanKind(models.TextChoices):
    COMMENTER = "commenter", "Commenter identity"
    EMAIL = "email", "Email address"
    CLIENT = "client", "Client address (keyed hash)"


class Ban(models.Model):
    """Keeps a reader from commenting on a site until ``expires`` (never, when empty).

    ``value`` is a commenter id, a lower-cased email address, or the keyed hash of a client
    address (``core.clients.client_fingerprint``): raw addresses are never stored.
    """

    site = models.ForeignKey("townhall_sites.Site", on_delete=models.CASCADE, related_name="bans")
    kind = models.CharField(max_length=16, choices=BanKind.choices)
    value = models.CharField(max_length=254)
    reason = models.CharField(max_length=300, blank=True, default="")
    expires = models.DateTimeField(null=True, blank=True)
    lifted = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["site", "kind", "value"], name="ban_lookup")]

    def __str__(self) -> str:
        return f"ban of {self.kind} on {self.site}"


class AuditAction(models.TextChoices):
    HOLD = "hold", "Held by the pipeline"
    APPROVE = "approve", "Approved"
    REJECT = "reject", "Rejected"
    SPAM = "spam", "Marked as spam"
    FEATURE = "feature", "Featured"
    UNFEATURE = "unfeature", "No longer featured"
    BAN = "ban", "Banned"
    LIFT_BAN = "lift_ban", "Ban lifted"
    UNDO = "undo", "Undone"


class AuditEntry(models.Model):
    """One moderation action: who (a moderator, or the pipeline when ``actor`` is empty), what,
    on which comment or ban, and the status before and after, so that it can be undone."""

    site = models.ForeignKey("townhall_sites.Site", on_delete=models.CASCADE, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=16, choices=AuditAction.choices)
    comment = models.ForeignKey(
        "townhall_discussions.Comment", null=True, on_delete=models.CASCADE, related_name="+"
    )
    ban = models.ForeignKey(Ban, null=True, on_delete=models.CASCADE, related_name="+")
    from_status = models.CharField(max_length=16, blank=True, default="")
    to_status = models.CharField(max_length=16, blank=True, default="")
    detail = models.JSONField(default=dict, blank=True)
    undoes = models.ForeignKey("self", null=True, on_delete=models.SET_NULL, related_name="+")
    undone = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["site", "-created"], name="audit_by_site")]
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor or 'pipeline'}"
