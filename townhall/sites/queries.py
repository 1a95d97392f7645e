from __future__ import annotations

from django.core.cache import cache

from townhall.core.errors import NotFound
from townhall.sites.models import Site

_ORIGINS_KEY = "sites:all-origins:v1"


def access_site(slug: str) -> Site:
    """The site with this slug, or NotFound (the API's 404 ``unknown_site``)."""
    try:
        return Site.objects.get(slug=slug)
    except Site.DoesNotExist:
        raise NotFound(f"There is no site {slug!r}.", code="unknown_site", field="site") from None


def all_allowed_origins() -> frozenset[str]:
    """Every origin some site allows, cached; CORS preflights are answered from this."""
    origins = cache.get(_ORIGINS_KEY)
    if origins is None:
        origins = frozenset(
            origin.lower()
            for allowed in Site.objects.values_list("allowed_origins", flat=True)
            for origin in allowed
        )
        cache.set(_ORIGINS_KEY, origins, 300)
    return origins


def forget_allowed_origins() -> None:
    cache.delete(_ORIGINS_KEY)
