"""Reader support: campaigns with a goal, the contributions counted toward it, and the record
of Stripe events already handled.

Money is integer minor units (cents for USD, yen for JPY) with its ISO 4217 currency; no float
holds an amount anywhere.
"""

from __future__ import annotations

from django.db import models


class Checkout(models.TextChoices):
    STRIPE = "stripe", "Stripe Checkout"
    DONATION_URL = "donation_url", "The publisher's own donation page"
    TEST = "test", "Test mode (no payment; demo)"


class Campaign(models.Model):
    """A fundraising goal of one site. ``settled_total`` is the public "raised" figure: the sum
    of what settled contributions count (``Contribution.counted``), kept by the actions in the
    transaction of every change to a contribution, with this row locked."""

    site = models.ForeignKey("townhall_sites.Site", on_delete=models.CASCADE, related_name="+")
    slug = models.SlugField(max_length=64)
    title = models.CharField(max_length=200)
    currency = models.CharField(max_length=3)  # ISO 4217, upper case
    goal = models.PositiveBigIntegerField()  # minor units
    stretch_goals = models.JSONField(default=list, blank=True)  # ascending, above the goal
    starts = models.DateTimeField()
    ends = models.DateTimeField(null=True, blank=True)
    checkout = models.CharField(max_length=16, choices=Checkout.choices, default=Checkout.STRIPE)
    donation_url = models.URLField(max_length=2048, blank=True, default="")
    support_prompt = models.BooleanField(default=False)  # offered after a reader posts
    settled_total = models.BigIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "slug"], name="campaign_unique_slug_per_site"),
            models.CheckConstraint(condition=models.Q(goal__gt=0), name="campaign_goal_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.site_id}/{self.slug}"


class ContributionStatus(models.TextChoices):
    PENDING = "pending", "Pending (not counted)"
    SETTLED = "settled", "Settled"
    REFUNDED = "refunded", "Refunded in full"


class ContributionSource(models.TextChoices):
    STRIPE = "stripe", "Stripe"
    MANUAL = "manual", "Entered by staff"
    CSV = "csv", "CSV import"
    TEST = "test", "Test checkout"


class Contribution(models.Model):
    """One contribution to a campaign. Who gave is never public: only the campaign's total and,
    when the reader asked for it, a badge on their comments."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="contributions")
    amount = models.PositiveBigIntegerField()  # minor units
    currency = models.CharField(max_length=3)  # always the campaign's
    status = models.CharField(
        max_length=16, choices=ContributionStatus.choices, default=ContributionStatus.PENDING
    )
    refunded_amount = models.PositiveBigIntegerField(default=0)  # partial refunds lower it
    source = models.CharField(max_length=16, choices=ContributionSource.choices)
    # Stripe: the Checkout Session id; CSV: the row's id (or a hash of the row); test: a nonce.
    # NULL when there is none, so that the unique constraint leaves those rows alone.
    external_id = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    # Stripe's PaymentIntent, by which refunds (charge.refunded) find the contribution.
    payment_intent = models.CharField(max_length=255, blank=True, default="")
    commenter = models.ForeignKey(
        "townhall_identity.Commenter",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contributions",
    )
    show_badge = models.BooleanField(default=False)  # the reader opted in to the badge
    note = models.CharField(max_length=500, blank=True, default="")  # staff only
    created = models.DateTimeField(auto_now_add=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=models.Q(external_id__isnull=False),
                name="contribution_unique_external_id",
            ),
            models.CheckConstraint(
                condition=models.Q(refunded_amount__lte=models.F("amount")),
                name="contribution_refund_within_amount",
            ),
        ]
        indexes = [
            models.Index(fields=["payment_intent"], name="contribution_by_intent"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} ({self.status}) to {self.campaign_id}"

    @property
    def counted(self) -> int:
        """What this contribution adds to its campaign's total."""
        if self.status != ContributionStatus.SETTLED:
            return 0
        return self.amount - self.refunded_amount


class StripeEvent(models.Model):
    """A Stripe event handled: inserted in the transaction of its effect, so a redelivery (or
    two deliveries at once: the second waits on the unique index, then fails) changes nothing."""

    site = models.ForeignKey("townhall_sites.Site", on_delete=models.CASCADE, related_name="+")
    event_id = models.CharField(max_length=255)
    type = models.CharField(max_length=100)
    outcome = models.CharField(max_length=32, blank=True, default="")
    received = models.DateTimeField(auto_now_add=True)

    class Meta:
        # Per site: two sites on one Stripe account each get (and handle) the same event.
        constraints = [
            models.UniqueConstraint(fields=["site", "event_id"], name="stripe_event_once_per_site")
        ]

    def __str__(self) -> str:
        return f"{self.event_id} ({self.type})"
