"""Reader-support settings, from TOWNHALL_* environment variables."""

from __future__ import annotations

from django.conf import settings

from townhall.config import env

STRIPE_API_BASE = "https://api.stripe.com"


def stripe_api_base() -> str:
    """Where Stripe's API is reached; ``TOWNHALL_STRIPE_API_BASE`` points it elsewhere (the
    tests' stand-in server on 127.0.0.1, or an egress proxy)."""
    return (env.get("STRIPE_API_BASE") or STRIPE_API_BASE).rstrip("/")


def public_url() -> str:
    """This server's public address, for the test checkout and support pages' links."""
    return settings.PUBLIC_URL


def test_checkout_seconds() -> int:
    """How long a test checkout link stays valid."""
    return env.get_int("TEST_CHECKOUT_SECONDS", 3600)
