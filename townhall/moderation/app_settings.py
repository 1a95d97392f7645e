"""Moderation settings, from TOWNHALL_* environment variables."""

from __future__ import annotations

from django.conf import settings

from townhall.config import env

AKISMET_COMMENT_CHECK = "https://rest.akismet.com/1.1/comment-check"


def akismet_url() -> str:
    """Akismet's comment-check endpoint; ``TOWNHALL_AKISMET_URL`` points it elsewhere (a proxy,
    or the tests' stand-in server)."""
    return env.get("AKISMET_URL") or AKISMET_COMMENT_CHECK


def public_url() -> str:
    return settings.PUBLIC_URL
