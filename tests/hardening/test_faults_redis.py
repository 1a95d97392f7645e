"""Fault test: Redis stopped and started again under a real `townhall serve` (Granian).

The server keeps its cache, rate-limit counters, thread versions and live pub/sub in a private
redis-server (``_services``: its own port, no persistence; never the machine's), with rate limits
on. Redis is killed, then started again on the same port, with no restart of the server:

* while it is down, threads, the demo's article page and posts still answer 2xx, rate limits
  let posts through (fail open: more posts than the limit allows are accepted), and live event
  streams go on: an open stream still gets the events of comments posted to this process (read
  from the database, not through Redis), and a new stream opens (200, not a 500);
* once it is back, the cache fills again (counters, versions) and pub/sub works both ways: a
  post is published on the live channel, and what is published there reaches an open stream,
  so the server's own subscription came back by itself.

It runs in the SQLite pass only: its Redis is its own, whatever the suite's.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import queue
import socket
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from tests.browser.support import ARTICLE_PATH, Server
from tests.hardening._services import PrivateRedis, call, private_redis, townhall_server, wait_for

pytestmark = pytest.mark.skipif(
    connection.vendor != "sqlite",
    reason="runs its own Redis whatever the suite's: in the SQLite pass only",
)

PREFIX = "faults"
CHANNEL = f"{PREFIX}:live"
CACHED = f"{PREFIX}:1:*"  # Django's cache keys: prefix, version, key
VERSIONS = f"{PREFIX}:tv:*"  # thread versions (discussions.versions)
POST_LIMIT = 10  # Site.post_rate_per_client's default, 10 a minute
EVENT_TIMEOUT = 8.0


class EventStream:
    """A live event stream read in a thread: its status, then each event's lines as they come."""

    def __init__(self, server: Server, thread_id: int) -> None:
        self._connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        self._connection.request("GET", f"/api/v1/threads/{thread_id}/events")
        self.response = self._connection.getresponse()
        self.status = self.response.status
        self.events: queue.Queue[str] = queue.Queue()
        if self.status == 200:
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        event: list[str] = []
        try:
            for raw in self.response:
                line = raw.decode().rstrip("\n")
                if line:
                    event.append(line)
                elif event:
                    self.events.put("\n".join(event))
                    event = []
        except Exception:  # noqa: S110 (closed under it by close())
            pass

    def wait_for(self, text: str, timeout: float = EVENT_TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                break
            if text in event:
                return event
        raise AssertionError(f"no event with {text!r} within {timeout} s")

    def close(self) -> None:
        # Wakes the reading thread up (a plain close would wait for its read to time out).
        with contextlib.suppress(OSError):
            self._connection.sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]
        self._connection.close()


@pytest.fixture
def redis_server() -> Iterator[PrivateRedis]:
    with private_redis() as server:
        yield server


@pytest.fixture
def server(redis_server: PrivateRedis, tmp_path: Path) -> Iterator[Server]:
    with townhall_server(
        tmp_path,
        REDIS_URL=redis_server.url,
        CACHE_PREFIX=PREFIX,
        RATELIMIT="1",
        TRUSTED_PROXIES="127.0.0.1",
    ) as server:
        yield server


_addresses = (f"10.0.0.{n}" for n in itertools.count(1))


def _post(server: Server, text: str, address: str | None = None) -> int:
    """Posts ``text`` from ``address``, by default one of its own: the moderation pipeline
    holds a new commenter's burst of posts, and live events tell of visible comments only."""
    body = {"site": "demo", "url": server.article_url, "body": text}
    headers = {"X-Forwarded-For": address or next(_addresses)}
    return call(server, "POST", "/api/v1/comments", body, headers).status


def _reads_answer(server: Server) -> None:
    query = urllib.parse.urlencode({"site": "demo", "url": server.article_url})
    assert call(server, "GET", f"/api/v1/threads?{query}").status == 200
    assert call(server, "GET", ARTICLE_PATH).status == 200


def test_redis_stopped_and_restarted(redis_server: PrivateRedis, server: Server) -> None:
    query = urllib.parse.urlencode({"site": "demo", "url": server.article_url})
    assert _post(server, f"Opens {uuid.uuid4()}") == 201
    thread_id = call(server, "GET", f"/api/v1/threads?{query}").json()["thread"]["id"]
    redis = redis_server.client()
    stream = EventStream(server, thread_id)
    streams = [stream]
    try:
        assert stream.status == 200
        text = f"Before {uuid.uuid4()}"
        assert _post(server, text) == 201
        stream.wait_for(text)
        assert redis.keys(CACHED)  # the cache's entries (rate-limit counters among them)
        assert redis.keys(VERSIONS)

        redis_server.stop()

        _reads_answer(server)
        # More posts than the rate limit allows from one client: not counted, all let through
        # (held for moderation after the first few, as a new commenter's burst: not refused).
        texts = [f"Down {n} {uuid.uuid4()}" for n in range(POST_LIMIT + 2)]
        statuses = {_post(server, text, "10.9.9.9") for text in texts}
        assert statuses <= {201, 202}, statuses
        text = f"Down, open stream {uuid.uuid4()}"
        assert _post(server, text) == 201
        stream.wait_for(text)  # this process's events, read from the database
        during = EventStream(server, thread_id)
        streams.append(during)
        assert during.status == 200
        text = f"Down, new stream {uuid.uuid4()}"
        assert _post(server, text) == 201
        during.wait_for(text)
        _reads_answer(server)

        redis_server.start()
        redis = redis_server.client()
        listener = redis.pubsub(ignore_subscribe_messages=True)
        listener.subscribe(CHANNEL)

        # The cache takes values again (the next post is counted, its thread version stored).
        def posted_and_cached() -> bool:
            return _post(server, f"Back {uuid.uuid4()}") == 201 and bool(
                redis.keys(CACHED) and redis.keys(VERSIONS)
            )

        wait_for(posted_and_cached, timeout=EVENT_TIMEOUT, what="nothing cached in Redis again")
        # Publishing goes through Redis again...
        assert _published(listener), "no live event published on Redis after it came back"
        # ...and the server's subscription is back: an event published by "another process"
        # reaches this one's stream.
        marker = f"from another process {uuid.uuid4()}"

        after = EventStream(server, thread_id)
        streams.append(after)

        def crossed() -> bool:
            redis.publish(CHANNEL, f'{thread_id} 999999999 comment {{"marker": "{marker}"}}')
            try:
                after.wait_for(marker, timeout=0.5)
                stream.wait_for(marker, timeout=0.5)
            except AssertionError:
                return False
            return True

        wait_for(crossed, timeout=3 * EVENT_TIMEOUT, what="the server did not resubscribe")
        _reads_answer(server)
    finally:
        for each in streams:
            each.close()

    log = server.log()
    assert "Traceback" not in log, log[-4000:]
    # Each part says once that Redis went away and once that it is back, not on every request.
    for part in ("Cache", "Thread versions"):
        assert log.count(f"{part}: Redis does not answer") == 1, log[-4000:]
        assert log.count(f"{part}: Redis answers again") == 1, log[-4000:]
    assert "Live updates resumed" in log, log[-4000:]


def _published(listener) -> bool:
    deadline = time.monotonic() + EVENT_TIMEOUT
    while time.monotonic() < deadline:
        message = listener.get_message(timeout=0.5)
        if message and message["type"] == "message":
            return True
    return False
