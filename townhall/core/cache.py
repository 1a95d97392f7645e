"""Django's Redis cache, answering as an empty cache while Redis does not answer.

Nothing Townhall keeps in the cache is the only copy of anything: thread pages are built again
from the database, the allowed origins read again, rate-limit counters start again. So when
Redis goes away, requests should cost a little more, not fail: reads miss, writes are dropped,
and the log says so once. After a failure Redis is left alone for ``RETRY_SECONDS``, so that a
Redis that hangs (rather than refusing connections) does not hold every request for its timeout.

Rate limits count in this cache: while Redis is away ``add`` answers False and ``incr`` None,
which django-ratelimit takes as a failed count; ``RATELIMIT_FAIL_OPEN`` (settings) then lets
the request through rather than refusing every post until Redis is back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

T = TypeVar("T")


class _Outage:
    """Whether Redis is taken to be away, shared by every thread's instance of the cache:
    Django makes one per thread, and each would otherwise try Redis and log on its own."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.down = False
        self.retry_at = 0.0


class ResilientRedisCache(RedisCache):
    RETRY_SECONDS = 1.0
    _outage = _Outage()

    def _guarded(self, fallback: T, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        outage = self._outage
        if outage.down and time.monotonic() < outage.retry_at:
            return fallback
        try:
            result = call(*args, **kwargs)
        except RedisError as error:
            with outage.lock:
                first, outage.down = not outage.down, True
                outage.retry_at = time.monotonic() + self.RETRY_SECONDS
            if first:
                logger.warning(
                    "Cache: Redis does not answer (%s); going on without the shared cache "
                    "(pages built from the database, rate limits not counted) until it does",
                    type(error).__name__,
                )
            return fallback
        if outage.down:
            with outage.lock:
                came_back, outage.down = outage.down, False
            if came_back:
                logger.warning("Cache: Redis answers again")
        return result

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None):
        return self._guarded(False, super().add, key, value, timeout, version)

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        return self._guarded(default, super().get, key, default, version)

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None):
        self._guarded(None, super().set, key, value, timeout, version)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> bool:
        return self._guarded(False, super().touch, key, timeout, version)

    def delete(self, key: Any, version: Any = None) -> bool:
        return self._guarded(False, super().delete, key, version)

    def get_many(self, keys: Iterable[Any], version: Any = None) -> dict[Any, Any]:
        return self._guarded({}, super().get_many, keys, version)

    def has_key(self, key: Any, version: Any = None) -> bool:
        return self._guarded(False, super().has_key, key, version)

    def incr(self, key: Any, delta: int = 1, version: Any = None) -> Any:
        # None, not a number: django-ratelimit's sign that counting failed.
        return self._guarded(None, super().incr, key, delta, version)

    def set_many(self, data: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> Any:
        return self._guarded(list(data), super().set_many, data, timeout, version)

    def delete_many(self, keys: Iterable[Any], version: Any = None) -> None:
        self._guarded(None, super().delete_many, keys, version)

    def clear(self) -> None:
        self._guarded(None, super().clear)
