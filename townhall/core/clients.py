"""Who is on the other end of a request, told apart without storing what identifies them."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """The client's IP address: REMOTE_ADDR, or the last untrusted hop of X-Forwarded-For.

    X-Forwarded-For is believed only when the connection comes from a configured trusted proxy
    (``TOWNHALL_TRUSTED_PROXIES``), since any client can send the header.
    """
    remote = request.META.get("REMOTE_ADDR", "") or "0.0.0.0"  # noqa: S104 (not a bind)
    trusted = settings.TRUSTED_PROXIES
    if not trusted or not _in_networks(remote, trusted):
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    for hop in reversed([h for h in hops if h]):
        if not _in_networks(hop, trusted):
            return hop
    return remote


def _in_networks(address: str, networks: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in networks)


def client_fingerprint(request: HttpRequest) -> str:
    """A keyed hash of the client's address: stable enough for votes, bans and rate limits,
    useless to anyone without the secret key. Raw addresses are never stored."""
    address = client_address(request)
    # Group IPv6 clients by /64: one household or phone gets a whole prefix.
    try:
        ip = ipaddress.ip_address(address)
        if ip.version == 6:
            address = str(ipaddress.ip_network(f"{ip}/64", strict=False).network_address)
    except ValueError:
        pass
    digest = hmac.new(settings.SECRET_KEY.encode(), address.encode(), hashlib.blake2b)
    return digest.hexdigest()[:32]


def request_origin(request: HttpRequest) -> str | None:
    """The browser's Origin header, when the request came from a page."""
    origin = request.headers.get("Origin")
    return origin if origin and origin != "null" else None
