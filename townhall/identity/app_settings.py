"""Identity settings, from TOWNHALL_* environment variables."""

from __future__ import annotations

from townhall.config import env


def magic_link_rate_per_client() -> str:
    """Magic links one client address may ask for (django-ratelimit rate)."""
    return env.get("MAGIC_LINK_RATE_PER_CLIENT") or "10/10m"


def magic_link_rate_per_address() -> str:
    """Magic links sent to one email address: bounds what anyone can make arrive there."""
    return env.get("MAGIC_LINK_RATE_PER_ADDRESS") or "3/10m"
