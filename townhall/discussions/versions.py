"""Where every process learns a thread's current version without asking the database.

A thread's version only grows (see ``actions.bump_thread``). Writers publish the new version
when their transaction commits; readers that went to the database publish what they read. The
store keeps the highest value it was told, so a late, older publication never wins.

- With Redis (``TOWNHALL_REDIS_URL``) the versions live there, shared by every process: one
  ``GET`` per fast read, a small Lua "set if higher" per publication.
- Without Redis (one process, the embedded default) they live in this process, each for a few
  seconds only, so a write made by another process (a command, the worker) is seen soon.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time

from django.conf import settings

logger = logging.getLogger(__name__)

LOCAL_TTL_SECONDS = 2.0
REDIS_TTL_SECONDS = 24 * 3600

_SET_IF_HIGHER = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return 1
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 0
"""


def version_key(site_slug: str, url_key: str) -> str:
    digest = hashlib.blake2b(url_key.encode(), digest_size=12).hexdigest()
    return f"{site_slug}:{digest}"


class LocalVersions:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._versions: dict[str, tuple[int, float]] = {}

    def publish(self, key: str, version: int) -> None:
        with self._lock:
            known = self._versions.get(key)
            if known is None or version >= known[0] or known[1] < time.monotonic():
                self._versions[key] = (version, time.monotonic() + LOCAL_TTL_SECONDS)

    async def aget(self, key: str) -> int | None:
        known = self._versions.get(key)
        if known is None or known[1] < time.monotonic():
            return None
        return known[0]

    def clear(self) -> None:
        with self._lock:
            self._versions.clear()


class RedisVersions:
    def __init__(self, url: str, prefix: str) -> None:
        import redis
        import redis.asyncio

        self._prefix = f"{prefix}:tv:"
        self._sync = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        self._script = self._sync.register_script(_SET_IF_HIGHER)
        self._url = url
        # One asyncio client per event loop (uvicorn runs one loop per process).
        self._async: dict[int, redis.asyncio.Redis] = {}
        self._async_lock = threading.Lock()
        self._failing = False

    def publish(self, key: str, version: int) -> None:
        try:
            self._script(keys=[self._prefix + key], args=[version, REDIS_TTL_SECONDS])
        except Exception as error:  # Redis down: reads fall back to the database
            self._failed(error)
            return
        self._answered()

    async def aget(self, key: str) -> int | None:
        import asyncio

        import redis.asyncio

        loop_id = id(asyncio.get_running_loop())
        client = self._async.get(loop_id)
        if client is None:
            with self._async_lock:
                client = self._async.setdefault(
                    loop_id,
                    redis.asyncio.Redis.from_url(
                        self._url, socket_timeout=1, socket_connect_timeout=1
                    ),
                )
        try:
            value = await client.get(self._prefix + key)
        except Exception as error:
            self._failed(error)
            return None
        self._answered()
        return int(value) if value is not None else None

    def _failed(self, error: Exception) -> None:
        """Says so once per outage, not on every read and post while Redis is away."""
        if not self._failing:
            self._failing = True
            logger.warning(
                "Thread versions: Redis does not answer (%s); thread reads go to the database "
                "until it does",
                type(error).__name__,
            )

    def _answered(self) -> None:
        if self._failing:
            self._failing = False
            logger.warning("Thread versions: Redis answers again")

    def clear(self) -> None:
        for key in self._sync.scan_iter(match=self._prefix + "*", count=500):
            self._sync.delete(key)


_store: LocalVersions | RedisVersions | None = None
_store_lock = threading.Lock()


def store() -> LocalVersions | RedisVersions:
    global _store
    if _store is None:
        with _store_lock:
            if _store is None:
                if settings.REDIS_URL:
                    prefix = str(settings.CACHES["default"].get("KEY_PREFIX", "townhall"))
                    _store = RedisVersions(settings.REDIS_URL, prefix)
                else:
                    _store = LocalVersions()
    return _store
