from __future__ import annotations

import secrets

from django.db import models


def _nonce() -> str:
    return secrets.token_urlsafe(12)


class Frequency(models.TextChoices):
    IMMEDIATE = "immediate", "As they happen"
    HOURLY = "hourly", "Hourly digest"
    DAILY = "daily", "Daily digest"


class SubscriptionKind(models.TextChoices):
    THREAD = "thread", "New follow-up comments"
    REPLIES = "replies", "New replies to my comments"
    COMMENT = "comment", "New replies to this comment"


class Subscriber(models.Model):
    """An email address on one site: whether its owner confirmed it, and how they want mail.

    Nothing but the confirmation request is ever sent to an address before ``confirmed_at``.
    Rotating ``token_nonce`` voids every link mailed so far.
    """

    site = models.ForeignKey("townhall_sites.Site", on_delete=models.CASCADE)
    email = models.EmailField()  # stored lowercased
    confirmed_at = models.DateTimeField(null=True, blank=True)
    frequency = models.CharField(
        max_length=16, choices=Frequency.choices, default=Frequency.IMMEDIATE
    )
    token_nonce = models.CharField(max_length=32, default=_nonce)
    last_digest_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "email"], name="subscriber_unique_email"),
        ]

    def __str__(self) -> str:
        return self.email


class Subscription(models.Model):
    """What a subscriber follows on one thread. ``comment`` is set for the COMMENT kind."""

    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="subscriptions"
    )
    thread = models.ForeignKey("townhall_discussions.Thread", on_delete=models.CASCADE)
    kind = models.CharField(max_length=16, choices=SubscriptionKind.choices)
    comment = models.ForeignKey(
        "townhall_discussions.Comment", null=True, blank=True, on_delete=models.CASCADE
    )
    # Lets the browser that created this subscription cancel it (see api.subscribe); a request
    # for an existing subscription gets a receipt that matches nothing.
    receipt_nonce = models.CharField(max_length=32, default=_nonce)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subscriber", "thread", "kind"],
                condition=models.Q(comment__isnull=True),
                name="subscription_unique_per_thread",
            ),
            models.UniqueConstraint(
                fields=["subscriber", "comment"],
                condition=models.Q(comment__isnull=False),
                name="subscription_unique_per_comment",
            ),
        ]
        indexes = [models.Index(fields=["thread", "kind"], name="subscription_by_thread")]

    def __str__(self) -> str:
        return f"{self.subscriber_id} follows {self.kind} on {self.thread_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    SENDING = "sending", "Claimed by a worker"
    SENT = "sent", "Sent"
    FAILED = "failed", "Gave up"


class Delivery(models.Model):
    """One notification about one comment for one subscriber.

    The unique constraint is what makes a comment reach an address once, however many
    subscriptions match and however many workers run; how a worker killed while sending is
    made up for is in docs/notifications.md, "Delivery guarantees".
    """

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="deliveries")
    comment = models.ForeignKey("townhall_discussions.Comment", on_delete=models.CASCADE)
    reason = models.CharField(max_length=16, choices=SubscriptionKind.choices)
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # While SENDING: when the worker's claim runs out. It is renewed while the worker sends; a
    # claim left to run out means the worker died, and the sweep sends the mail again.
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subscriber", "comment"], name="delivery_once"),
        ]
        indexes = [models.Index(fields=["status", "subscriber"], name="delivery_by_status")]

    def __str__(self) -> str:
        return f"comment {self.comment_id} to {self.subscriber_id}: {self.status}"
