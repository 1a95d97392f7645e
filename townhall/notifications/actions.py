"""Subscriptions and the notifications they cause. Every write here owns its transaction; mail
is only ever sent by tasks (``tasks.py``), after commit."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import timedelta
from typing import Any, NamedTuple

from django.core import signing
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from townhall.core.errors import BadRequest
from townhall.discussions.models import Comment, CommentStatus, Thread
from townhall.notifications.models import (
    Delivery,
    DeliveryStatus,
    Frequency,
    Subscriber,
    Subscription,
    SubscriptionKind,
)
from townhall.sites.models import Site

MAX_ATTEMPTS = 8


def normalize_email(email: str) -> str:
    return email.strip().lower()


class Subscribed(NamedTuple):
    subscriber: Subscriber
    needs_confirmation: bool
    receipt: str


RECEIPT_SALT = "townhall.notifications.receipt"


def make_receipt(subscription: Subscription | None) -> str:
    """A token that cancels the subscription this request created, and nothing otherwise; both
    look alike, so the answer never tells whether the address was subscribed before."""
    if subscription is None:
        return signing.dumps({"s": 0, "n": secrets.token_urlsafe(12)}, salt=RECEIPT_SALT)
    return signing.dumps({"s": subscription.pk, "n": subscription.receipt_nonce}, salt=RECEIPT_SALT)


def do_cancel_by_receipt(receipt: str) -> None:
    """Cancels the subscription a receipt names, if it still matches; silent either way."""
    try:
        payload = signing.loads(receipt, salt=RECEIPT_SALT, max_age=400 * 24 * 3600)
    except signing.BadSignature:
        raise BadRequest("The receipt is not valid.", code="invalid_receipt") from None
    with transaction.atomic():
        Subscription.objects.filter(pk=payload.get("s"), receipt_nonce=payload.get("n")).delete()


def do_subscribe(
    site: Site,
    *,
    email: str,
    thread: Thread,
    kind: str,
    comment: Comment | None = None,
    frequency: str | None = None,
) -> Subscribed:
    """Records a subscription; returns the subscriber and whether a confirmation must be sent.

    The subscription exists at once, but nothing is mailed to an unconfirmed address except the
    confirmation request (see ``queue_confirmation``).
    """
    if kind not in SubscriptionKind.values:
        raise BadRequest(f"Unknown subscription kind {kind!r}.", field="kind")
    if frequency is not None and frequency not in Frequency.values:
        raise BadRequest(f"Unknown frequency {frequency!r}.", field="frequency")
    with transaction.atomic():
        subscriber, _created = Subscriber.objects.get_or_create(
            site=site, email=normalize_email(email)
        )
        if frequency and subscriber.confirmed_at is None:
            # Only the address's owner (through a confirmed link) changes a confirmed choice.
            Subscriber.objects.filter(pk=subscriber.pk).update(frequency=frequency)
        subscription, created = Subscription.objects.get_or_create(
            subscriber=subscriber,
            thread=thread,
            kind=kind,
            comment=comment if kind == SubscriptionKind.COMMENT else None,
        )
    receipt = make_receipt(subscription if created else None)
    return Subscribed(subscriber, subscriber.confirmed_at is None, receipt)


def do_confirm_subscriber(subscriber: Subscriber) -> None:
    """The owner of the address followed the confirmation link."""
    with transaction.atomic():
        Subscriber.objects.filter(pk=subscriber.pk, confirmed_at__isnull=True).update(
            confirmed_at=timezone.now()
        )


def do_unsubscribe(subscriber: Subscriber, *, subscription_id: int | None = None) -> int:
    """Ends one subscription, or all of the subscriber's; pending mail about them is dropped."""
    with transaction.atomic():
        subscriptions = Subscription.objects.filter(subscriber=subscriber)
        if subscription_id is not None:
            subscriptions = subscriptions.filter(pk=subscription_id)
        removed, _ = subscriptions.delete()
        Delivery.objects.filter(subscriber=subscriber, status=DeliveryStatus.PENDING).exclude(
            subscriber__subscriptions__isnull=False
        ).delete()
    return removed


def do_set_frequency(subscriber: Subscriber, frequency: str) -> None:
    if frequency not in Frequency.values:
        raise BadRequest(f"Unknown frequency {frequency!r}.", field="frequency")
    with transaction.atomic():
        Subscriber.objects.filter(pk=subscriber.pk).update(frequency=frequency)


def do_record_deliveries(comment: Comment) -> list[int]:
    """Works out who hears about a newly visible comment and records one delivery each.

    Precondition: ``comment`` is visible. Returns the ids of deliveries to send now (subscribers
    who chose immediate mail); digest subscribers' deliveries wait for their digest. Idempotent:
    running it twice for one comment records nothing new.
    """
    if comment.status != CommentStatus.VISIBLE:
        return []
    recipients = _recipients(comment)
    if not recipients:
        return []
    with transaction.atomic():
        Delivery.objects.bulk_create(
            [
                Delivery(subscriber_id=subscriber_id, comment=comment, reason=reason)
                for subscriber_id, reason in recipients.items()
            ],
            ignore_conflicts=True,
            batch_size=1000,
        )
        immediate = Delivery.objects.filter(
            comment=comment,
            status=DeliveryStatus.PENDING,
            subscriber__frequency=Frequency.IMMEDIATE,
        ).values_list("pk", flat=True)
        return list(immediate)


def _recipients(comment: Comment) -> dict[int, str]:
    """subscriber id → reason, for confirmed subscribers other than the comment's author."""
    ancestors = _ancestors(comment)
    ancestor_ids = [row["id"] for row in ancestors]
    ancestor_emails = {row["author__email"].lower() for row in ancestors if row["author__email"]}
    author_email = (comment.author.email if comment.author else "").lower()
    confirmed = Subscription.objects.filter(
        thread_id=comment.thread_id, subscriber__confirmed_at__isnull=False
    ).exclude(subscriber__email=author_email or None)
    recipients: dict[int, str] = {}
    for subscriber_id in (
        confirmed.filter(kind=SubscriptionKind.THREAD)
        .values_list("subscriber_id", flat=True)
        .iterator(chunk_size=2000)
    ):
        recipients[subscriber_id] = SubscriptionKind.THREAD
    # A reply to the subscriber's own comment is news of its own kind: it wins over "thread".
    replies = confirmed.filter(kind=SubscriptionKind.REPLIES, subscriber__email__in=ancestor_emails)
    direct = confirmed.filter(kind=SubscriptionKind.COMMENT, comment_id__in=ancestor_ids)
    for subscriber_id in [
        *replies.values_list("subscriber_id", flat=True),
        *direct.values_list("subscriber_id", flat=True),
    ]:
        recipients[subscriber_id] = SubscriptionKind.REPLIES
    return recipients


def _ancestors(comment: Comment) -> list[dict[str, Any]]:
    """The comments above this one, with their authors' emails, in one query."""
    if comment.parent_id is None:
        return []
    root_id = comment.root_id or comment.parent_id
    subtree = Comment.objects.filter(Q(pk=root_id) | Q(root_id=root_id))
    rows: dict[int, dict[str, Any]] = {
        row["id"]: dict(row) for row in subtree.values("id", "parent_id", "author__email")
    }
    chain: list[dict[str, Any]] = []
    cursor = comment.parent_id
    while cursor is not None and cursor in rows:
        chain.append(rows[cursor])
        cursor = rows[cursor]["parent_id"]
    return chain


def claim_deliveries(ids: Iterable[int]) -> list[Delivery]:
    """Marks pending, due deliveries as being sent and returns them; a delivery claimed by one
    worker is never returned to another (row locks on PostgreSQL; SQLite writes one at a time)."""
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(pk__in=list(ids), status=DeliveryStatus.PENDING)
            .exclude(next_attempt_at__gt=now)
            .values_list("pk", flat=True)
        )
        Delivery.objects.filter(pk__in=rows, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.SENDING, attempts=F("attempts") + 1
        )
    return list(
        Delivery.objects.select_related("subscriber__site", "comment__thread", "comment")
        .filter(pk__in=rows)
        .order_by("pk")
    )


def claim_digest(subscriber_id: int) -> list[Delivery]:
    """Claims every pending delivery of one digest subscriber, oldest first."""
    ids = Delivery.objects.filter(
        subscriber_id=subscriber_id, status=DeliveryStatus.PENDING
    ).values_list("pk", flat=True)
    return claim_deliveries(list(ids))


def due_digest_subscribers(now=None) -> list[int]:
    """Confirmed digest subscribers with pending mail whose period has passed."""
    now = now or timezone.now()
    due: list[int] = []
    for frequency, period in (
        (Frequency.HOURLY, timedelta(hours=1)),
        (Frequency.DAILY, timedelta(days=1)),
    ):
        subscribers = (
            Subscriber.objects.filter(frequency=frequency, confirmed_at__isnull=False)
            .filter(deliveries__status=DeliveryStatus.PENDING)
            .exclude(last_digest_at__gt=now - period)
            .values_list("pk", flat=True)
            .distinct()
        )
        due.extend(subscribers)
    return due


def do_mark_digest_sent(subscriber_id: int, deliveries: Iterable[Delivery]) -> None:
    with transaction.atomic():
        do_mark_sent(deliveries)
        Subscriber.objects.filter(pk=subscriber_id).update(last_digest_at=timezone.now())


def do_mark_sent(deliveries: Iterable[Delivery]) -> None:
    with transaction.atomic():
        Delivery.objects.filter(pk__in=[d.pk for d in deliveries]).update(
            status=DeliveryStatus.SENT, sent_at=timezone.now(), last_error=""
        )


def do_mark_failed(delivery: Delivery, error: str) -> timedelta | None:
    """Puts a delivery back for a later try with exponential back-off; gives up after
    MAX_ATTEMPTS. Returns the delay before the next try, or None when given up."""
    delay = None if delivery.attempts >= MAX_ATTEMPTS else timedelta(minutes=2**delivery.attempts)
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.FAILED if delay is None else DeliveryStatus.PENDING,
            next_attempt_at=None if delay is None else timezone.now() + delay,
            last_error=error[:300],
        )
    return delay
