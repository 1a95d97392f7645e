"""Subscriptions and the notifications they cause. Every write here owns its transaction; mail
is only ever sent by tasks (``tasks.py``), after commit."""

from __future__ import annotations

import operator
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import reduce
from typing import Any, NamedTuple

from django.core import signing
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from townhall.core.errors import BadRequest
from townhall.discussions.models import Comment, CommentStatus, Thread
from townhall.notifications import app_settings
from townhall.notifications.models import (
    Delivery,
    DeliveryStatus,
    Frequency,
    Subscriber,
    Subscription,
    SubscriptionKind,
    _nonce,
)
from townhall.sites.models import Site

MAX_ATTEMPTS = 8
DIGEST_PERIODS = {Frequency.HOURLY: timedelta(hours=1), Frequency.DAILY: timedelta(days=1)}
# A pending delivery of an immediate subscriber that no task has sent after this long (its task
# was lost, or its subscriber left a digest for immediate mail) is sent by the periodic sweep.
ORPHANED_AFTER = timedelta(minutes=5)


def normalize_email(email: str) -> str:
    return email.strip().lower()


class Subscribed(NamedTuple):
    subscriber: Subscriber
    needs_confirmation: bool
    receipt: str


RECEIPT_SALT = "townhall.notifications.receipt"


def make_receipt(thread: Thread, subscription: Subscription | None) -> str:
    """A token that cancels the subscription this request created, and nothing otherwise.

    Both look alike (the article's thread and a random nonce of the same length): a signed value
    is readable by anyone, so it must not carry the subscription's id or a "nothing created"
    mark, which would tell whether the address was subscribed before.
    """
    nonce = subscription.receipt_nonce if subscription is not None else _nonce()
    return signing.dumps({"t": thread.pk, "n": nonce}, salt=RECEIPT_SALT)


def do_cancel_by_receipt(receipt: str) -> None:
    """Cancels the subscription a receipt names, if it still matches; silent either way."""
    try:
        payload = signing.loads(receipt, salt=RECEIPT_SALT, max_age=400 * 24 * 3600)
    except signing.BadSignature:
        raise BadRequest("The receipt is not valid.", code="invalid_receipt") from None
    thread_id, nonce = (payload.get("t"), payload.get("n")) if isinstance(payload, dict) else (0, 0)
    if not isinstance(thread_id, int) or not isinstance(nonce, str) or not nonce:
        raise BadRequest("The receipt is not valid.", code="invalid_receipt")
    with transaction.atomic():
        subscriptions = Subscription.objects.filter(thread_id=thread_id, receipt_nonce=nonce)
        subscriber_ids = list(subscriptions.values_list("subscriber_id", flat=True))
        subscriptions.delete()
        for subscriber_id in subscriber_ids:
            _drop_unfollowed_pending(subscriber_id)


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
    receipt = make_receipt(thread, subscription if created else None)
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
        _drop_unfollowed_pending(subscriber.pk)
    return removed


def _drop_unfollowed_pending(subscriber_id: int) -> None:
    """Drops a subscriber's pending mail about threads it no longer follows."""
    followed = Subscription.objects.filter(subscriber_id=subscriber_id).values("thread_id")
    Delivery.objects.filter(subscriber_id=subscriber_id, status=DeliveryStatus.PENDING).exclude(
        comment__thread_id__in=followed
    ).delete()


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


def _due(now: datetime) -> Q:
    """Deliveries that may be tried now: pending ones never tried or whose back-off is over, and
    ones whose worker's claim ran out before it recorded them sent (the worker was killed)."""
    return (
        Q(status=DeliveryStatus.PENDING)
        & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    ) | _abandoned(now)


def _abandoned(now: datetime) -> Q:
    return Q(status=DeliveryStatus.SENDING, lease_until__lte=now)


WORKER_STOPPED = "Given up: the worker stopped while sending it, at its last attempt."


def claim_deliveries(ids: Iterable[int]) -> list[Delivery]:
    """Marks due deliveries as being sent, for one lease, and returns them; a delivery claimed
    by one worker is not returned to another while the lease lasts (row locks on PostgreSQL;
    SQLite writes one at a time). Each claim counts as an attempt.

    Pending mail about a comment that is no longer visible (deleted, or hidden by a moderator
    since) is dropped instead, and mail whose worker was killed at every one of its attempts (a
    message that stops the worker) is given up.
    """
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            # Only the deliveries' rows: a comment row locked by a vote must not hide them.
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(_due(now), pk__in=list(ids))
            .values_list("pk", "comment__status", "attempts")
        )
        withdrawn = [pk for pk, status, _ in rows if status != CommentStatus.VISIBLE]
        visible = [
            (pk, attempts) for pk, status, attempts in rows if status == CommentStatus.VISIBLE
        ]
        spent = [pk for pk, attempts in visible if attempts >= MAX_ATTEMPTS]
        claimed = [pk for pk, attempts in visible if attempts < MAX_ATTEMPTS]
        if withdrawn:
            Delivery.objects.filter(pk__in=withdrawn).delete()
        if spent:
            Delivery.objects.filter(pk__in=spent).update(
                status=DeliveryStatus.FAILED, lease_until=None, last_error=WORKER_STOPPED
            )
        Delivery.objects.filter(pk__in=claimed).update(
            status=DeliveryStatus.SENDING,
            attempts=F("attempts") + 1,
            lease_until=now + app_settings.delivery_lease(),
        )
    return list(
        Delivery.objects.select_related("subscriber__site", "comment__thread", "comment")
        .filter(pk__in=claimed)
        .order_by("pk")
    )


def _immediate() -> Q:
    return Q(subscriber__frequency=Frequency.IMMEDIATE, subscriber__confirmed_at__isnull=False)


def due_immediate_deliveries(now: datetime | None = None, limit: int = 5000) -> list[int]:
    """Mail of immediate subscribers that is due and that no queued task will send: retries
    whose back-off is over, deliveries left behind (see ``ORPHANED_AFTER``), and mail claimed by
    a worker that was killed before it recorded the mail sent (its lease ran out)."""
    now = now or timezone.now()
    waiting = Q(status=DeliveryStatus.PENDING) & (
        Q(next_attempt_at__lte=now)
        | Q(next_attempt_at__isnull=True, created__lte=now - ORPHANED_AFTER)
    )
    return list(
        Delivery.objects.filter(_immediate())
        .filter(waiting | _abandoned(now))
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


def do_renew_lease(deliveries: list[Delivery]) -> list[Delivery]:
    """Extends a worker's claim on deliveries it has yet to send; returns those it still holds.

    Precondition: the deliveries come from one ``claim_deliveries`` (or the last renewal of it),
    so they carry one ``lease_until``: that value identifies the claim. A claim that ran out may
    have been taken over by another worker (a new claim has a later lease), which sends those.
    """
    if not deliveries:
        return []
    until = timezone.now() + app_settings.delivery_lease()
    with transaction.atomic():
        held = set(
            Delivery.objects.select_for_update(of=("self",))
            .filter(
                pk__in=[delivery.pk for delivery in deliveries],
                status=DeliveryStatus.SENDING,
                lease_until=deliveries[0].lease_until,
            )
            .values_list("pk", flat=True)
        )
        Delivery.objects.filter(pk__in=held).update(lease_until=until)
    for delivery in deliveries:
        delivery.lease_until = until
    return [delivery for delivery in deliveries if delivery.pk in held]


def _digest_due(now: datetime) -> Q:
    """Subscribers whose digest is due: their period has passed since their last digest, and
    since the oldest mail it would carry (so the first comment after a quiet spell waits for the
    others of its hour or day instead of going out alone at once). A digest whose worker was
    killed before it recorded the digest sent is due again as soon as its lease has run out."""
    per_frequency = []
    for frequency, period in DIGEST_PERIODS.items():
        cutoff = now - period
        waiting = Delivery.objects.filter(_due(now), subscriber=OuterRef("pk"), created__lte=cutoff)
        per_frequency.append(
            Q(frequency=frequency)
            & (Q(last_digest_at__isnull=True) | Q(last_digest_at__lte=cutoff))
            & Q(Exists(waiting))
        )
    abandoned = Delivery.objects.filter(_abandoned(now), subscriber=OuterRef("pk"))
    per_frequency.append(Q(frequency__in=list(DIGEST_PERIODS)) & Q(Exists(abandoned)))
    return reduce(operator.or_, per_frequency) & Q(confirmed_at__isnull=False)


def due_digest_subscribers(now: datetime | None = None) -> list[int]:
    """Confirmed digest subscribers with pending mail whose period has passed."""
    now = now or timezone.now()
    return list(Subscriber.objects.filter(_digest_due(now)).values_list("pk", flat=True))


class Digest(NamedTuple):
    deliveries: list[Delivery]
    previous_digest_at: datetime | None  # put back if the digest cannot be sent


def claim_digest(subscriber_id: int, now: datetime | None = None) -> Digest:
    """Claims every pending, due delivery of one digest subscriber whose digest is due, oldest
    first, and records the digest as sent now, so a second claim (two workers, or the sweep
    queued twice) finds it not due and sends no second digest in the same period."""
    now = now or timezone.now()
    with transaction.atomic():
        subscriber: Subscriber | None = (
            Subscriber.objects.select_for_update()
            .filter(_digest_due(now), pk=subscriber_id)
            .first()
        )
        if subscriber is None:
            return Digest([], None)
        ids = list(
            Delivery.objects.filter(_due(now), subscriber_id=subscriber_id).values_list(
                "pk", flat=True
            )
        )
        deliveries = claim_deliveries(ids)
        if deliveries:
            Subscriber.objects.filter(pk=subscriber_id).update(last_digest_at=now)
    return Digest(deliveries, subscriber.last_digest_at)


def do_mark_digest_failed(subscriber_id: int, digest: Digest, error: str) -> None:
    """The digest could not be sent: its mail waits for a retry, and the period is not used."""
    with transaction.atomic():
        for delivery in digest.deliveries:
            do_mark_failed(delivery, error)
        Subscriber.objects.filter(pk=subscriber_id).update(last_digest_at=digest.previous_digest_at)


def do_mark_sent(deliveries: Iterable[Delivery]) -> None:
    """Records mail the SMTP server has accepted. Called at once for each message, in a
    transaction of its own: until it commits, a worker killed now would have it sent again."""
    with transaction.atomic():
        Delivery.objects.filter(pk__in=[d.pk for d in deliveries]).update(
            status=DeliveryStatus.SENT, sent_at=timezone.now(), lease_until=None, last_error=""
        )


def do_mark_failed(delivery: Delivery, error: str) -> timedelta | None:
    """Puts a delivery back for a later try with exponential back-off; gives up after
    MAX_ATTEMPTS. Returns the delay before the next try, or None when given up."""
    delay = None if delivery.attempts >= MAX_ATTEMPTS else timedelta(minutes=2**delivery.attempts)
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.FAILED if delay is None else DeliveryStatus.PENDING,
            next_attempt_at=None if delay is None else timezone.now() + delay,
            lease_until=None,
            last_error=error[:300],
        )
    return delay
