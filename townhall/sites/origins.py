"""Origins: the one definition of "scheme://host[:port]" used for CORS and thread creation."""

from __future__ import annotations

from urllib.parse import urlsplit


class InvalidOrigin(ValueError):
    pass


def normalize_origin(value: str) -> str:
    """``"HTTPS://News.Example:443/"`` → ``"https://news.example"``; raises InvalidOrigin."""
    parts = urlsplit(value.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise InvalidOrigin(f"{value!r} is not an http(s) origin such as https://news.example")
    if parts.path not in {"", "/"} or parts.query or parts.fragment or parts.username:
        raise InvalidOrigin(f"{value!r} has more than scheme, host and port")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default_port = {"http": 80, "https": 443}[parts.scheme]
    try:
        port = parts.port
    except ValueError:
        raise InvalidOrigin(f"{value!r} has an invalid port") from None
    suffix = f":{port}" if port and port != default_port else ""
    return f"{parts.scheme}://{host}{suffix}"
