"""Background work of the notification system, run by `townhall worker` (django-tasks, with its
database backend). Requests only ever enqueue these, after their transaction commits."""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta
from email.utils import parseaddr

from django.core.cache import cache
from django.core.mail import get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.utils import timezone
from django_tasks import task

from townhall.discussions.models import Comment, CommentStatus
from townhall.notifications import actions, app_settings, emails
from townhall.notifications.models import Delivery, Subscriber

logger = logging.getLogger(__name__)
BATCH = 100
CONFIRMATION_ATTEMPTS = 5


@task()
def fan_out_comment(comment_id: int) -> int:
    """Records who hears about a new visible comment and queues the immediate mail in batches."""
    comment = Comment.objects.select_related("author", "thread").filter(pk=comment_id).first()
    if comment is None:
        return 0
    ids = actions.do_record_deliveries(comment)
    _enqueue_in_batches(ids)
    return len(ids)


def _enqueue_in_batches(ids: list[int]) -> None:
    for start in range(0, len(ids), BATCH):
        send_deliveries.enqueue(ids[start : start + BATCH])


@task()
def send_deliveries(delivery_ids: list[int]) -> int:
    """Sends the given deliveries that are due, one SMTP connection a batch. Each is recorded
    sent as soon as the SMTP server has accepted it; the claim on the rest is renewed while the
    batch goes out, so a worker killed mid-batch leaves only what it had not sent to the sweep."""
    deliveries = actions.claim_deliveries(delivery_ids)
    if not deliveries:
        return 0
    connection = get_connection()
    try:
        connection.open()
    except Exception as error:  # the SMTP server is away or refuses us: all of them later
        for delivery in deliveries:
            _retry_later(delivery, error)
        return 0
    merged: dict[tuple[int, str], emails.MergedNotification] = {}
    sent = 0
    try:
        while deliveries:
            deliveries = _hold(deliveries)
            if not deliveries:
                break  # the claim ran out and another worker took the rest over
            delivery = deliveries.pop(0)
            try:
                _send_one(connection, delivery, merged)
            except Exception as error:  # SMTP refused or dropped: retry later
                _retry_later(delivery, error)
                continue
            actions.do_mark_sent([delivery])
            sent += 1
    finally:
        with contextlib.suppress(Exception):  # the mail is out (or set to retry) either way
            connection.close()
    return sent


def _hold(deliveries: list[Delivery]) -> list[Delivery]:
    """The deliveries this worker still holds, its claim renewed once half of it has run."""
    lease = app_settings.delivery_lease()
    lease_until = deliveries[0].lease_until
    if lease_until is None or lease_until - timezone.now() > lease / 2:
        return deliveries
    return actions.do_renew_lease(deliveries)


def _send_one(
    connection, delivery: Delivery, merged: dict[tuple[int, str], emails.MergedNotification]
) -> None:
    """Over SMTP, a copy of the comment's message rendered once (mail merge); otherwise, or
    when a copy cannot be made, the message built for this recipient alone."""
    smtp = getattr(connection, "connection", None)
    if isinstance(connection, SMTPBackend) and smtp is not None:
        key = (delivery.comment_id, delivery.reason)
        if key not in merged:
            merged[key] = emails.MergedNotification(delivery)
        raw = merged[key].for_recipient(delivery)
        if raw is not None:
            sender = parseaddr(merged[key].from_email)[1]
            smtp.sendmail(sender, [delivery.subscriber.email], raw)
            return
    connection.send_messages([emails.notification_message(delivery)])


def _retry_later(delivery: Delivery, error: Exception) -> None:
    delay = actions.do_mark_failed(delivery, f"{type(error).__name__}: {error}")
    logger.warning(
        "notification %s not sent (attempt %s of %s): %s",
        delivery.pk,
        delivery.attempts,
        actions.MAX_ATTEMPTS,
        error,
    )
    if delay is not None:
        # The worker's periodic sweep (queue_due_retries) would find it too; this is on time.
        send_deliveries.using(run_after=timezone.now() + delay).enqueue([delivery.pk])


def queue_due_retries() -> int:
    """Queues the immediate mail that is due and that no queued task will send: retries whose
    back-off is over, deliveries whose task was lost, and deliveries whose worker was killed
    while it held them (their claim ran out). Run by `townhall worker`'s scheduler every minute;
    sending stays with the tasks it queues, which claim each delivery once per lease."""
    ids = actions.due_immediate_deliveries()
    _enqueue_in_batches(ids)
    return len(ids)


@task()
def send_confirmation(subscriber_id: int, attempt: int = 1) -> bool:
    subscriber = (
        Subscriber.objects.select_related("site")
        .filter(pk=subscriber_id, confirmed_at__isnull=True)
        .first()
    )
    if subscriber is None:
        return False
    try:
        emails.confirmation_message(subscriber).send()
    except Exception as error:  # the reader is waiting for this one: try again a few times
        logger.warning(
            "confirmation for subscriber %s not sent (attempt %s): %s",
            subscriber_id,
            attempt,
            error,
        )
        if attempt < CONFIRMATION_ATTEMPTS:
            send_confirmation.using(
                run_after=timezone.now() + timedelta(minutes=2**attempt)
            ).enqueue(subscriber_id, attempt + 1)
        return False
    return True


@task()
def send_due_digests() -> int:
    """Queues one digest for every subscriber whose hour or day has passed."""
    due = actions.due_digest_subscribers()
    for subscriber_id in due:
        send_digest.enqueue(subscriber_id)
    return len(due)


@task()
def send_digest(subscriber_id: int) -> int:
    digest = actions.claim_digest(subscriber_id)
    if not digest.deliveries:
        return 0
    subscriber = digest.deliveries[0].subscriber
    try:
        emails.digest_message(subscriber, digest.deliveries).send()
    except Exception as error:
        actions.do_mark_digest_failed(subscriber_id, digest, f"{type(error).__name__}: {error}")
        logger.warning("digest for subscriber %s not sent: %s", subscriber_id, error)
        return 0
    actions.do_mark_sent(digest.deliveries)
    return len(digest.deliveries)


MODERATOR_ALERT_SECONDS = 10 * 60


@task()
def alert_moderators(comment_id: int) -> int:
    """Tells the site's moderators that comments wait for them: at most one email every ten
    minutes per site, however many comments are held in that time."""
    comment = Comment.objects.select_related("thread__site").filter(pk=comment_id).first()
    if comment is None or not comment.thread.site.moderator_emails:
        return 0
    site = comment.thread.site
    if not cache.add(f"moderator-alert:{site.pk}", 1, MODERATOR_ALERT_SECONDS):
        return 0
    waiting = Comment.objects.filter(thread__site=site, status=CommentStatus.PENDING).count()
    emails.moderator_alert_message(site, waiting).send()
    return len(site.moderator_emails)
