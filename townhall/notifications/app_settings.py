"""Notification settings, from TOWNHALL_* environment variables."""

from __future__ import annotations

from datetime import timedelta

from townhall.config import env


def delivery_lease() -> timedelta:
    """How long a worker's claim on the mail it is sending lasts
    (``TOWNHALL_DELIVERY_LEASE_SECONDS``, default 5 minutes). A worker renews its claim once
    half of it has run; a claim that runs out (its worker was killed) is taken over by the next
    sweep. It must be longer than twice the longest one message can take: a few SMTP commands
    of up to ``EMAIL_TIMEOUT`` (20 s) each."""
    return timedelta(seconds=max(env.get_int("DELIVERY_LEASE_SECONDS", 300), 1))
