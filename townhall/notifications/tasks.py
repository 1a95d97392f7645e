"""Background work of the notification system, run by `townhall worker` (django-tasks, with its
database backend). Requests only ever enqueue these, after their transaction commits."""

from __future__ import annotations

import logging

from django.core.mail import get_connection
from django.utils import timezone
from django_tasks import task

from townhall.discussions.models import Comment
from townhall.notifications import actions, emails
from townhall.notifications.models import Subscriber

logger = logging.getLogger(__name__)
BATCH = 100


@task()
def fan_out_comment(comment_id: int) -> int:
    """Records who hears about a new visible comment and queues the immediate mail in batches."""
    comment = Comment.objects.select_related("author", "thread").filter(pk=comment_id).first()
    if comment is None:
        return 0
    ids = actions.do_record_deliveries(comment)
    for start in range(0, len(ids), BATCH):
        send_deliveries.enqueue(ids[start : start + BATCH])
    return len(ids)


@task()
def send_deliveries(delivery_ids: list[int]) -> int:
    """Sends the given deliveries that are still pending and due, one SMTP connection a batch."""
    deliveries = actions.claim_deliveries(delivery_ids)
    if not deliveries:
        return 0
    sent = 0
    with get_connection() as connection:
        for delivery in deliveries:
            try:
                connection.send_messages([emails.notification_message(delivery)])
            except Exception as error:  # SMTP refused or dropped: retry later
                _retry_later(delivery, error)
                continue
            # Marked one by one, so a worker stopped mid-batch never sends these again.
            actions.do_mark_sent([delivery])
            sent += 1
    return sent


def _retry_later(delivery, error: Exception) -> None:
    delay = actions.do_mark_failed(delivery, f"{type(error).__name__}: {error}")
    logger.warning(
        "notification %s not sent (attempt %s): %s", delivery.pk, delivery.attempts + 1, error
    )
    if delay is not None:
        send_deliveries.using(run_after=timezone.now() + delay).enqueue([delivery.pk])


@task()
def send_confirmation(subscriber_id: int) -> bool:
    subscriber = (
        Subscriber.objects.select_related("site")
        .filter(pk=subscriber_id, confirmed_at__isnull=True)
        .first()
    )
    if subscriber is None:
        return False
    emails.confirmation_message(subscriber).send()
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
    deliveries = actions.claim_digest(subscriber_id)
    if not deliveries:
        return 0
    subscriber = deliveries[0].subscriber
    try:
        emails.digest_message(subscriber, deliveries).send()
    except Exception as error:
        for delivery in deliveries:
            actions.do_mark_failed(delivery, f"{type(error).__name__}: {error}")
        logger.warning("digest for subscriber %s not sent: %s", subscriber_id, error)
        return 0
    actions.do_mark_digest_sent(subscriber_id, deliveries)
    return len(deliveries)
