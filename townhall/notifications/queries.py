"""Reads of the notification system that run on the posting path."""

from __future__ import annotations

from django.db import connections, router

from townhall.notifications.models import Subscriber, Subscription


def thread_has_confirmed_subscriptions(thread_id: int) -> bool:
    """Whether any confirmed subscriber follows this thread, or a comment or the replies in it:
    without one, nobody can hear of a new comment there.

    Plain SQL: asked after every post, and the ORM took several times SQLite's time to build it.
    Read from the primary: a replica a moment behind could miss a subscription just confirmed.
    """
    connection = connections[router.db_for_write(Subscription)]
    sql = (
        f"SELECT 1 FROM {Subscription._meta.db_table} s"  # noqa: S608 (table names)
        f" JOIN {Subscriber._meta.db_table} r ON r.id = s.subscriber_id"
        " WHERE s.thread_id = %s AND r.confirmed_at IS NOT NULL LIMIT 1"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [thread_id])
        return cursor.fetchone() is not None
