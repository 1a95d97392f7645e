"""Read replicas: readers' page loads read a replica; everything else reads the primary.

``TOWNHALL_DATABASE_REPLICA_URLS`` (settings) adds the databases ``replica_1``, ``replica_2``…,
``ReplicaReadsMiddleware`` and ``PrimaryReplicaRouter``. A replica lags the primary a little
(streaming replication), so it answers only reads that may be that little behind:

- reads made while serving GET and HEAD requests under ``REPLICA_PATHS`` (the thread pages,
  passages and counts readers load, ``/t/`` pages), each request on one replica throughout, so
  that its reads never see the database go back in time (a page is built from a version and the
  comments read after it);
- and even there never inside a transaction: while ``default`` has one open
  (``transaction.atomic``, which every action holds), reads go to it, to see its own writes.

Everything else reads the primary: posts, votes, edits and deletions (their ``access_`` queries
run before the action's transaction, and must find a comment posted a moment ago), the
moderators' pages, links in email, the worker, commands and the live streams (which must find an
event as soon as its notice arrives). Writes, ``select_for_update`` (a write to Django) and
migrations go to the primary only.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, HttpResponse

REPLICA_PATHS = ("/api/", "/t/")
REPLICA_PREFIX = "replica_"

_replica: ContextVar[str | None] = ContextVar("townhall_replica", default=None)


def replica_aliases() -> list[str]:
    return [alias for alias in settings.DATABASES if alias.startswith(REPLICA_PREFIX)]


@contextmanager
def reading_from_a_replica() -> Iterator[str | None]:
    """Lets reads in this block outside transactions go to one replica, chosen at random once
    for the whole block; yields its alias (None when there are no replicas)."""
    aliases = replica_aliases()
    token = _replica.set(random.choice(aliases) if aliases else None)  # noqa: S311 (balancing)
    try:
        yield _replica.get()
    finally:
        _replica.reset(token)


class ReplicaReadsMiddleware:
    """Marks the requests whose reads may go to a replica (see the module's docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in ("GET", "HEAD") and request.path.startswith(REPLICA_PATHS):
            with reading_from_a_replica():
                return self.get_response(request)
        return self.get_response(request)


class PrimaryReplicaRouter:
    def db_for_read(self, model: type, **hints: Any) -> str:
        replica = _replica.get()
        if replica is None or connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return DEFAULT_DB_ALIAS
        # Related objects of an object read from the primary are read there too.
        instance = hints.get("instance")
        if instance is not None and instance._state.db == DEFAULT_DB_ALIAS:
            return DEFAULT_DB_ALIAS
        return replica

    def db_for_write(self, model: type, **hints: Any) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # the replicas are copies of the primary: all one database

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == DEFAULT_DB_ALIAS
