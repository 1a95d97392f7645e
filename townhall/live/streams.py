"""``GET /api/v1/threads/{id}/events``: a thread's live events as server-sent events.

Answered on the event loop, in front of Django (a stream is open for as long as the reader
reads; a thread of Django's pool each would not scale to thousands of readers). A stream:

1. finds the thread (404 JSON if there is none; 503 ``database_unavailable`` with Retry-After
   while the database does not answer) and its site's origins (CORS);
2. subscribes to the broker, then sends what the reader missed since ``Last-Event-ID`` (the
   header EventSource sends when it reconnects, or ``?last_event_id=``) from the database, so
   nothing committed in between is lost;
3. sends each new event as it comes, and a comment line every ``HEARTBEAT_SECONDS`` so that
   proxies keep the connection open and dead readers are noticed.

Events: ``comment`` (a comment became visible: ``{"comment", "comment_count"}``), ``edit``
(``{"comment", "comment_count"}``), ``remove`` (``{"id", "status", "comment_count"}``), ``vote``
(``{"id", "upvotes", "downvotes", "score"}``), and ``reset`` when the events since
``Last-Event-ID`` are no longer kept (the page should load the thread again). Each event carries
the whole new state of what it names, so applying one twice is harmless.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque
from typing import Any
from urllib.parse import parse_qs

import orjson
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError, close_old_connections

from townhall.config import env
from townhall.core.errors import database_fault, log_database_fault
from townhall.discussions.hotpath import common_headers
from townhall.live.broker import HEARTBEAT, RESYNC, Subscription, broker, encode

logger = logging.getLogger(__name__)

PATH = re.compile(r"^/api/v1/threads/(\d{1,18})/events$")
HEARTBEAT_SECONDS = float(env.get("LIVE_HEARTBEAT_SECONDS") or 15)
RETRY_MS = 2000
MAX_REPLAY = 1000
MAX_STREAMS = settings.LIVE_MAX_STREAMS


def _thread_origins(thread_id: int) -> list[str] | None:
    from townhall.discussions.models import Thread

    close_old_connections()
    row = Thread.objects.filter(pk=thread_id).values_list("site__allowed_origins", flat=True)
    found = list(row[:1])
    return [o.lower() for o in found[0]] if found else None


def _latest_event_id(thread_id: int) -> int:
    from townhall.live.models import LiveEvent

    close_old_connections()
    events = LiveEvent.objects.filter(thread_id=thread_id).order_by("-pk")
    return events.values_list("pk", flat=True).first() or 0


def _missed(thread_id: int, last_id: int) -> tuple[list[tuple[int, str, str]], bool]:
    """The thread's events after ``last_id``, or, when the event ``last_id`` is no longer kept
    (older than events.RETENTION), none and True: the reader should load the thread again.
    ``last_id`` 0 is a stream that began when the thread had no events: all of them are new.

    A thread's events are numbered in the order their changes committed: each is written after
    the update of the thread's row (``bump_thread``), whose lock orders the writers of a thread.
    """
    from townhall.live.models import LiveEvent

    close_old_connections()
    events = LiveEvent.objects.filter(thread_id=thread_id)
    if last_id and not events.filter(pk=last_id).exists():
        return [], True
    rows = list(
        events.filter(pk__gt=last_id)
        .order_by("pk")
        .values_list("pk", "kind", "data")[: MAX_REPLAY + 1]
    )
    if len(rows) > MAX_REPLAY:
        return [], True
    return rows, False


class LiveStreams:
    """ASGI middleware: serves the event streams, passes everything else on."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            match = PATH.match(scope["path"])
            if match:
                await self.stream(scope, receive, send, int(match.group(1)))
                return
        await self.app(scope, receive, send)

    async def stream(self, scope, receive, send, thread_id: int) -> None:
        headers = dict(scope["headers"])
        try:
            origins = await sync_to_async(_thread_origins, thread_sensitive=False)(thread_id)
        except DatabaseError as error:
            fault = database_fault(error)
            if fault is None:
                raise
            log_database_fault(logger, fault, error)
            await _json(send, fault.status, fault.code, fault.message, fault.retry_after)
            return
        if origins is None:
            await _json(send, 404, "thread_not_found", "There is no such thread.")
            return
        the_broker = broker()
        if the_broker.streams >= MAX_STREAMS:
            await _json(send, 503, "too_many_streams", "Too many live readers; try again soon.")
            return
        origin = headers.get(b"origin", b"").decode("latin-1")
        response_headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-store"),
            (b"x-accel-buffering", b"no"),  # nginx: pass each event on at once
            (b"vary", b"origin"),
            *common_headers(),
        ]
        if origin and origin.lower() in origins:
            response_headers.append((b"access-control-allow-origin", origin.encode("latin-1")))
        start = {"type": "http.response.start", "status": 200, "headers": response_headers}
        if scope["method"] == "HEAD":
            await send(start)
            await send({"type": "http.response.body", "body": b""})
            return
        last_id = _last_event_id(scope, headers)
        subscription = the_broker.subscribe(thread_id)
        serving = watcher = None
        try:
            if last_id is None:
                # No Last-Event-ID: the reader wants what comes from now on, and "now" is when
                # it gets the answer. The thread's latest event is read after subscribing and
                # before answering, so nothing falls in between, and whatever the reader does
                # once answered comes after it (also when only a resync from the database
                # tells of it: Redis away).
                since = await sync_to_async(_latest_event_id, thread_sensitive=False)(thread_id)
            else:
                since = last_id
        except BaseException as error:  # the database away, or the reader gone meanwhile
            the_broker.unsubscribe(subscription)
            fault = database_fault(error)
            if fault is None:
                raise
            log_database_fault(logger, fault, error)
            await _json(send, fault.status, fault.code, fault.message, fault.retry_after)
            return
        try:
            await send(start)
            _start_heartbeats(the_broker)
            loop = asyncio.get_running_loop()
            serving = loop.create_task(
                _serve(send, subscription, thread_id, since, resume=last_id is not None)
            )
            watcher = loop.create_task(_watch_disconnect(receive))
            await asyncio.wait({serving, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if serving.done() and not serving.cancelled():
                failure = serving.exception()
                if failure is not None:
                    fault = database_fault(failure)
                    if fault is None:
                        raise failure
                    log_database_fault(logger, fault, failure)
                # Ended by the server (reset, too slow a reader, the database gone): close the
                # response; the reader reconnects with Last-Event-ID and catches up.
                await send({"type": "http.response.body", "body": b""})
        except OSError:
            pass  # the reader went away mid-write
        finally:
            the_broker.unsubscribe(subscription)
            for task in (serving, watcher):
                if task is not None:
                    task.cancel()


_heartbeats: dict[int, asyncio.Task] = {}  # per event loop


def _start_heartbeats(the_broker) -> None:
    """One task per event loop says "keep-alive" on every stream every HEARTBEAT_SECONDS (one
    timer for all streams, rather than one per stream and event)."""
    loop = asyncio.get_running_loop()
    running = _heartbeats.get(id(loop))
    if running is not None and not running.done():
        return

    async def beat() -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            the_broker.broadcast(HEARTBEAT)

    _heartbeats[id(loop)] = loop.create_task(beat())


async def _serve(
    send, subscription: Subscription, thread_id: int, since: int, *, resume: bool
) -> None:
    """Writes the thread's events after ``since`` as they come; with ``resume`` (the reader sent
    Last-Event-ID), first those it missed since then, from the database."""
    sent: deque[int] = deque(maxlen=2 * MAX_REPLAY)
    seen: set[int] = set()
    highest = since

    async def write(chunk: bytes) -> None:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})

    async def catch_up() -> bool:
        nonlocal highest
        rows, lost = await sync_to_async(_missed, thread_sensitive=False)(thread_id, highest)
        if lost:
            await write(f"id: {highest}\nevent: reset\ndata: {{}}\n\n".encode())
            return False
        for event_id, kind, data in rows:
            if event_id not in seen:
                await write(encode(event_id, kind, data))
                _remember(event_id)
        return True

    def _remember(event_id: int) -> None:
        nonlocal highest
        if len(sent) == sent.maxlen:
            seen.discard(sent[0])
        sent.append(event_id)
        seen.add(event_id)
        highest = max(highest, event_id)

    # The opening "id:" gives the browser a Last-Event-ID from the start, so a reconnection
    # before the first event resumes from here too (an id without data fires no event). It is
    # also where a resync (``broker.RESYNC``: Redis came back, or cannot carry an event) resumes.
    await write(f"retry: {RETRY_MS}\nid: {highest}\n\n".encode())
    if resume and not await catch_up():
        return
    while True:
        if subscription.overflowed:
            return  # too slow a reader: it reconnects with Last-Event-ID and catches up
        chunk = await subscription.queue.get()
        if chunk == HEARTBEAT:
            await write(chunk)
            continue
        if chunk == RESYNC:
            if not await catch_up():
                return
            continue
        event_id = int(chunk[4 : chunk.index(b"\n")])
        if event_id in seen:
            continue
        await write(chunk)
        _remember(event_id)


async def _watch_disconnect(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _last_event_id(scope, headers: dict[bytes, bytes]) -> int | None:
    """``Last-Event-ID``, else ``?last_event_id=``; None when neither is given. 0 is a page built
    when the thread had no event: every event kept since is new to it."""
    raw = headers.get(b"last-event-id", b"").decode("latin-1").strip()
    if not raw:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        raw = (query.get("last_event_id") or [""])[0]
    return int(raw) if raw.isdigit() and len(raw) <= 18 else None


async def _json(send, status: int, code: str, message: str, retry_after: int | None = None) -> None:
    body = orjson.dumps({"error": {"code": code, "message": message}})
    headers = [(b"content-type", b"application/json"), *common_headers()]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
