"""Article URLs: validation and the canonical key a thread is found by.

Two URLs that show the same article must find the same thread, so the key drops what varies
between visits (fragment, tracking parameters, default port, host case) and keeps what can name
the article (path and the remaining query parameters, sorted).
"""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode, urlsplit

from townhall.sites.origins import InvalidOrigin, normalize_origin

MAX_URL_CHARS = 2048
_TRACKING_PREFIXES = ("utm_", "mc_", "pk_")
_TRACKING_PARAMS = {"fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "ref", "_ga", "amp"}


class InvalidArticleUrl(ValueError):
    pass


def split_article_url(url: str) -> tuple[str, str]:
    """(origin, canonical URL) of an article URL; InvalidArticleUrl if it is not http(s)."""
    url = url.strip()
    if not url or len(url) > MAX_URL_CHARS:
        raise InvalidArticleUrl(f"An article URL is 1 to {MAX_URL_CHARS} characters long.")
    parts = urlsplit(url)
    try:
        origin = normalize_origin(f"{parts.scheme}://{parts.netloc}")
    except (InvalidOrigin, ValueError):
        raise InvalidArticleUrl(f"{url[:100]!r} is not an absolute http(s) URL.") from None
    query = sorted(
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key.lower() not in _TRACKING_PARAMS and not key.lower().startswith(_TRACKING_PREFIXES)
    )
    path = parts.path or "/"
    canonical = origin + path + (f"?{urlencode(query)}" if query else "")
    return origin, canonical


def canonical_url_key(canonical_url: str) -> str:
    """The thread lookup key: the canonical URL without its scheme (an article moved from http
    to https keeps its thread), or a hash of that when it is long."""
    key = canonical_url.split(":", 1)[1]
    if len(key) <= 200:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()
