"""Where live events travel from the process that committed them to the processes that hold
the readers' event streams.

One interface, two implementations:

- ``LocalBroker`` (the embedded default, one process): an event committed in one of Django's
  request threads is handed to the event loop that holds the streams
  (``call_soon_threadsafe``) and put on the queue of every stream of its thread.
- ``RedisBroker`` (``TOWNHALL_REDIS_URL`` set): events are published on one Redis channel; each
  process keeps one subscription to it and fans the events out to its own streams, so a comment
  posted to one process reaches readers connected to another. If Redis goes away, posting and
  reading go on: the process's own readers still get its events, the log says live updates
  paused, and when the subscription is back every stream reads what it missed from the
  database (``RESYNC``).

Events are encoded once as server-sent event bytes and shared by every stream.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import defaultdict

from django.conf import settings

logger = logging.getLogger(__name__)

QUEUE_SIZE = 256  # events waiting for one slow stream before it is closed (it will resume)
RESYNC = b""  # on a stream's queue: read what you may have missed from the database
HEARTBEAT = b": keep-alive\n\n"  # on every stream's queue now and then: said as it is


def encode(event_id: int, kind: str, data: str) -> bytes:
    return f"id: {event_id}\nevent: {kind}\ndata: {data}\n\n".encode()


class Subscription:
    def __init__(self, thread_id: int) -> None:
        self.thread_id = thread_id
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUE_SIZE)
        self.overflowed = False


class LocalBroker:
    """This process's streams, by thread. Streams subscribe on the event loop; ``publish`` may
    be called from any thread."""

    def __init__(self) -> None:
        self._streams: dict[int, set[Subscription]] = defaultdict(set)
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def streams(self) -> int:
        return sum(len(subs) for subs in self._streams.values())

    def subscribe(self, thread_id: int) -> Subscription:
        """Precondition: on the event loop that serves the streams."""
        self._loop = asyncio.get_running_loop()
        subscription = Subscription(thread_id)
        self._streams[thread_id].add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        streams = self._streams.get(subscription.thread_id)
        if streams is not None:
            streams.discard(subscription)
            if not streams:
                del self._streams[subscription.thread_id]

    def publish(self, thread_id: int, event_id: int, kind: str, data: str) -> None:
        self.deliver_here(thread_id, encode(event_id, kind, data))

    def deliver_here(self, thread_id: int, chunk: bytes) -> None:
        loop = self._loop
        if loop is None or loop.is_closed() or thread_id not in self._streams:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._dispatch(thread_id, chunk)
        else:
            loop.call_soon_threadsafe(self._dispatch, thread_id, chunk)

    def _dispatch(self, thread_id: int, chunk: bytes) -> None:
        for subscription in tuple(self._streams.get(thread_id, ())):
            self._put(subscription, chunk)

    def _put(self, subscription: Subscription, chunk: bytes) -> None:
        try:
            subscription.queue.put_nowait(chunk)
        except asyncio.QueueFull:
            subscription.overflowed = True

    def resync_all(self) -> None:
        """Precondition: on the event loop."""
        self.broadcast(RESYNC)

    def broadcast(self, chunk: bytes) -> None:
        """Puts ``chunk`` on every stream's queue. Precondition: on the event loop."""
        for streams in tuple(self._streams.values()):
            for subscription in tuple(streams):
                self._put(subscription, chunk)


class RedisBroker(LocalBroker):
    """Events through one Redis channel, so that every process hears every process's events."""

    RETRY_SECONDS = (0.5, 1, 2, 5)

    def __init__(self, url: str, prefix: str) -> None:
        import redis

        super().__init__()
        self._url = url
        self._channel = f"{prefix}:live"
        self._client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        self._listener: asyncio.Task | None = None
        self._lock = threading.Lock()
        self.connected = False
        self._publish_failing = False

    def subscribe(self, thread_id: int) -> Subscription:
        subscription = super().subscribe(thread_id)
        if self._listener is None or self._listener.done():
            self._listener = asyncio.get_running_loop().create_task(self._listen())
        return subscription

    def publish(self, thread_id: int, event_id: int, kind: str, data: str) -> None:
        try:
            self._client.publish(self._channel, f"{thread_id} {event_id} {kind} {data}")
        except Exception as error:
            with self._lock:
                first = not self._publish_failing
                self._publish_failing = True
            if first:
                logger.warning(
                    "Live updates: cannot publish to Redis (%s); only this process's readers "
                    "hear of new events until it answers again",
                    type(error).__name__,
                )
            self._deliver_from_database(thread_id)
            return
        if self._publish_failing:
            self._publish_failing = False
            logger.warning("Live updates: publishing to Redis again")
        if not self.connected:  # this process's subscription is down: its readers still hear
            self._deliver_from_database(thread_id)

    def _deliver_from_database(self, thread_id: int) -> None:
        """While events cannot travel through Redis, this process's streams of the thread read
        the new event from the database rather than take it from here: events other processes
        committed meanwhile did not reach them and come before it, and a stream resumes after
        the last event it sent, so it must not send this one first and skip those."""
        self.deliver_here(thread_id, RESYNC)

    async def _listen(self) -> None:
        import redis.asyncio

        attempt = 0
        paused = False
        while True:
            client = redis.asyncio.Redis.from_url(
                self._url, socket_connect_timeout=2, health_check_interval=10
            )
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                self.connected = True
                attempt = 0
                if paused:
                    logger.warning("Live updates resumed: Redis answers again")
                    paused = False
                # Whatever was published before this subscription: read from the database.
                self.resync_all()
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    thread_id, event_id, kind, data = message["data"].decode().split(" ", 3)
                    self._dispatch(int(thread_id), encode(int(event_id), kind, data))
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self.connected = False
                if not paused:
                    logger.warning(
                        "Live updates paused: Redis does not answer (%s); reads and posts go on",
                        type(error).__name__,
                    )
                    paused = True
                await asyncio.sleep(self.RETRY_SECONDS[min(attempt, len(self.RETRY_SECONDS) - 1)])
                attempt += 1
            finally:
                self.connected = False
                try:
                    await pubsub.aclose()
                    await client.aclose()
                except Exception:  # noqa: S110 (closing a connection that is already gone)
                    pass


_broker: LocalBroker | None = None
_broker_lock = threading.Lock()


def broker() -> LocalBroker:
    global _broker
    if _broker is None:
        with _broker_lock:
            if _broker is None:
                if settings.REDIS_URL:
                    prefix = str(settings.CACHES["default"].get("KEY_PREFIX", "townhall"))
                    _broker = RedisBroker(settings.REDIS_URL, prefix)
                else:
                    _broker = LocalBroker()
    return _broker
