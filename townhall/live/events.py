"""Recording live events: called by the actions that change what a thread's readers see.

``record_event`` writes the event in the caller's transaction and hands it to the broker once
that transaction commits, so a reader is never told of a change that did not happen, and a
reader who reconnects finds every committed event in the database.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import orjson
from django.db import transaction
from django.utils import timezone

from townhall.live.broker import broker
from townhall.live.models import LiveEvent

RETENTION = timedelta(hours=1)
PRUNE_ONE_IN = 500  # writes that also delete events older than RETENTION


def record_event(thread_id: int, kind: str, data: dict[str, Any]) -> None:
    """Precondition: inside the transaction of the change it announces."""
    encoded = orjson.dumps(data).decode()
    event = LiveEvent.objects.create(thread_id=thread_id, kind=kind, data=encoded)
    event_id = event.pk
    transaction.on_commit(lambda: broker().publish(thread_id, event_id, kind, encoded))
    if random.randrange(PRUNE_ONE_IN) == 0:  # noqa: S311 (not for security)
        transaction.on_commit(prune)


def prune() -> int:
    deleted, _ = LiveEvent.objects.filter(created__lt=timezone.now() - RETENTION).delete()
    return deleted
