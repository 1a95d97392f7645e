from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.text import slugify

from townhall.core.errors import BadRequest, Conflict
from townhall.sites.models import ModerationMode, Site
from townhall.sites.origins import InvalidOrigin, normalize_origin
from townhall.sites.queries import forget_allowed_origins


def do_create_site(
    *,
    slug: str,
    name: str,
    origins: list[str],
    moderation_mode: str = ModerationMode.POST,
    edit_window_seconds: int = 15 * 60,
    max_depth: int = 10,
    moderator_emails: list[str] | None = None,
) -> Site:
    """Creates a site with normalized origins.

    A bad slug, origin or setting raises BadRequest; a taken slug, Conflict.
    """
    if slugify(slug) != slug or not slug:
        raise BadRequest(f"{slug!r} is not a valid slug (lowercase letters, digits, hyphens).")
    if moderation_mode not in ModerationMode.values:
        raise BadRequest(f"Unknown moderation mode {moderation_mode!r}.")
    if not 1 <= max_depth <= 50:
        raise BadRequest("max_depth must be between 1 and 50.")
    try:
        normalized = sorted({normalize_origin(origin) for origin in origins})
    except InvalidOrigin as error:
        raise BadRequest(str(error), field="origins") from None
    moderators = sorted({email.strip().lower() for email in moderator_emails or []})
    for email in moderators:
        try:
            validate_email(email)
        except ValidationError:
            raise BadRequest(
                f"{email!r} is not an email address.", field="moderator_emails"
            ) from None
    with transaction.atomic():
        if Site.objects.filter(slug=slug).exists():
            raise Conflict(f"A site {slug!r} exists already.")
        site = Site.objects.create(
            slug=slug,
            name=name or slug,
            allowed_origins=normalized,
            moderation_mode=moderation_mode,
            edit_window_seconds=edit_window_seconds,
            max_depth=max_depth,
            moderator_emails=moderators,
        )
        transaction.on_commit(forget_allowed_origins)
    return site


def do_set_site_origins(site: Site, origins: list[str]) -> Site:
    """Replaces a site's allowed origins."""
    try:
        normalized = sorted({normalize_origin(origin) for origin in origins})
    except InvalidOrigin as error:
        raise BadRequest(str(error), field="origins") from None
    with transaction.atomic():
        Site.objects.filter(pk=site.pk).update(allowed_origins=normalized)
        transaction.on_commit(forget_allowed_origins)
    site.allowed_origins = normalized
    return site
