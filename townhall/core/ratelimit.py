"""Rate limits on writes, counted by django-ratelimit in the default cache (Redis when set)."""

from __future__ import annotations

from django.http import HttpRequest
from django_ratelimit.core import _split_rate, get_usage

from townhall.core.errors import RateLimited


def enforce_rate(request: HttpRequest, *, group: str, value: str, rate: str) -> None:
    """Counts one event for ``value`` in ``group``; RateLimited once it is over ``rate``.

    ``value`` is an already anonymous key (a keyed hash of the client address or an identity
    id), so no raw address reaches the cache. A no-op when TOWNHALL_RATELIMIT=0.
    """
    usage = get_usage(request, group=group, key=lambda _g, _r: value, rate=rate, increment=True)
    if usage is None or not usage["should_limit"]:
        return
    _count, period = _split_rate(rate)
    retry_after = max(1, int(usage.get("time_left") or period))
    raise RateLimited(
        f"Too many requests; try again in {retry_after} seconds.", retry_after=retry_after
    )
