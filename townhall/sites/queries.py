from __future__ import annotations

import time

from django.core.cache import cache

from townhall.core.db import select_one
from townhall.core.errors import NotFound
from townhall.sites.models import Site

_ORIGINS_KEY = "sites:all-origins:v1"
LOCAL_ORIGINS_SECONDS = 5.0
_local_origins: list = [0.0, None]


def access_site(slug: str) -> Site:
    """The site with this slug, or NotFound (the API's 404 ``unknown_site``).

    Read on every API request, always from the database (no copy can go stale), by a lean read
    (``core.db``): the ORM spent six times SQLite's time building this query.
    """
    site = select_one(Site, "slug = %s", [slug])
    if site is None:
        raise NotFound(f"There is no site {slug!r}.", code="unknown_site", field="site")
    return site


def all_allowed_origins() -> frozenset[str]:
    """Every origin some site allows; CORS is answered from this.

    Held in this process for a few seconds over the shared cache, since the thread-read fast
    path asks on every request and must not wait on the network for it.
    """
    expires, origins = _local_origins
    if origins is not None and expires > time.monotonic():
        return origins
    origins = cache.get(_ORIGINS_KEY)
    if origins is None:
        origins = frozenset(
            origin.lower()
            for allowed in Site.objects.values_list("allowed_origins", flat=True)
            for origin in allowed
        )
        cache.set(_ORIGINS_KEY, origins, 300)
    _local_origins[:] = [time.monotonic() + LOCAL_ORIGINS_SECONDS, origins]
    return origins


def known_allowed_origins() -> frozenset[str] | None:
    """This process's copy of ``all_allowed_origins`` while it is fresh, else None; no I/O, so
    the event loop may call it (the fast path then leaves the request to Django, which reads
    them again)."""
    expires, origins = _local_origins
    return origins if origins is not None and expires > time.monotonic() else None


def forget_allowed_origins() -> None:
    cache.delete(_ORIGINS_KEY)
    _local_origins[:] = [0.0, None]
