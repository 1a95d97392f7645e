from __future__ import annotations

from django.db import models


class ModerationMode(models.TextChoices):
    POST = "post", "Post-moderation: visible at once"
    PRE = "pre", "Pre-moderation: every comment waits for a moderator"
    PRE_FIRST = "pre_first", "Pre-moderate a reader's first comment"


class SsoAlgorithm(models.TextChoices):
    HS256 = "HS256", "HS256 (shared secret)"
    RS256 = "RS256", "RS256 (publisher's public key)"


class DeletionPolicy(models.TextChoices):
    PLACEHOLDER = "placeholder", "Comments become deleted placeholders"
    ANONYMIZE = "anonymize", "Comments stay, by an anonymous author"


class Site(models.Model):
    """A publisher's site: where its widget may run and how its discussions behave."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    # Origins ("https://news.example") whose pages may embed the widget, create threads and write.
    allowed_origins = models.JSONField(default=list, blank=True)
    moderation_mode = models.CharField(
        max_length=16, choices=ModerationMode.choices, default=ModerationMode.POST
    )
    edit_window_seconds = models.PositiveIntegerField(default=15 * 60)
    max_depth = models.PositiveSmallIntegerField(default=10)
    max_comment_chars = models.PositiveIntegerField(default=10_000)
    # django-ratelimit rates ("10/m"): posts per client address and per commenter identity,
    # votes per client address.
    post_rate_per_client = models.CharField(max_length=16, default="10/m")
    post_rate_per_identity = models.CharField(max_length=16, default="5/m")
    vote_rate_per_client = models.CharField(max_length=16, default="60/m")
    # Told by email when comments wait in the moderation queue.
    moderator_emails = models.JSONField(default=list, blank=True)
    # The moderation pipeline's rules (moderation/pipeline.py). Words match whole words, case
    # and accents aside; an entry with a space matches that phrase.
    banned_words = models.JSONField(default=list, blank=True)  # the comment is refused
    suspect_words = models.JSONField(default=list, blank=True)  # it waits for a moderator
    max_links = models.PositiveSmallIntegerField(default=3)  # more links: it waits
    # Held when the offline toxicity model scores it at or above this (0 to 1); 1 turns it off.
    toxicity_threshold = models.FloatField(default=0.9)
    # A new commenter's comments within ten minutes past which the next one waits; 0: no limit.
    new_commenter_burst = models.PositiveSmallIntegerField(default=5)
    # Reader reports that take a visible comment to the moderation queue.
    flag_threshold = models.PositiveSmallIntegerField(default=3)
    # Akismet is asked only when the site sets its own key.
    akismet_key = models.CharField(max_length=64, blank=True, default="")
    # Reader support (townhall.support) through the site's own Stripe account. Secrets: never
    # logged, never returned by any API (``townhall stripekeys`` sets them).
    stripe_secret_key = models.CharField(max_length=255, blank=True, default="")
    stripe_webhook_secret = models.CharField(max_length=255, blank=True, default="")
    # Reader sign-in (townhall.identity): which ways are open, what a guest must give.
    signin_guest = models.BooleanField(default=True)
    signin_email = models.BooleanField(default=False)
    signin_sso = models.BooleanField(default=False)
    guest_requires_name = models.BooleanField(default=False)
    guest_requires_email = models.BooleanField(default=False)
    # SSO: the publisher signs JWTs with this algorithm; the token's own header never decides.
    sso_algorithm = models.CharField(
        max_length=8, choices=SsoAlgorithm.choices, default=SsoAlgorithm.HS256
    )
    # HS256 shared secret: never logged, never returned by any API (``townhall signin`` sets it).
    sso_secret = models.CharField(max_length=255, blank=True, default="")
    sso_public_key = models.TextField(blank=True, default="")  # RS256, PEM
    # Whether an email in an SSO token counts as confirmed (may claim guest comments).
    sso_trust_email = models.BooleanField(default=True)
    # What a reader's deletion leaves of their comments.
    deletion_policy = models.CharField(
        max_length=16, choices=DeletionPolicy.choices, default=DeletionPolicy.PLACEHOLDER
    )
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.slug

    def allows_origin(self, origin: str) -> bool:
        return origin.rstrip("/").lower() in {o.rstrip("/").lower() for o in self.allowed_origins}
