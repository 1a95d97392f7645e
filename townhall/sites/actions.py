from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.text import slugify

from townhall.core.errors import BadRequest, Conflict
from townhall.discussions.actions import bump_thread
from townhall.discussions.models import Thread
from townhall.sites.models import DeletionPolicy, ModerationMode, Site, SsoAlgorithm
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
    **rules: Any,
) -> Site:
    """Creates a site with normalized origins. ``rules`` are moderation rules, as for
    ``do_set_moderation_rules``.

    A bad slug, origin or setting raises BadRequest; a taken slug, Conflict.
    """
    rules = clean_moderation_rules(rules)
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
            **rules,
        )
        transaction.on_commit(forget_allowed_origins)
    return site


RULE_FIELDS = (
    "banned_words",
    "suspect_words",
    "max_links",
    "toxicity_threshold",
    "new_commenter_burst",
    "flag_threshold",
    "akismet_key",
)


def clean_moderation_rules(rules: dict[str, Any]) -> dict[str, Any]:
    """The moderation rules checked and normalized; BadRequest names the first bad one."""
    unknown = set(rules) - set(RULE_FIELDS)
    if unknown:
        raise BadRequest(f"Unknown moderation rule {sorted(unknown)[0]!r}.")
    cleaned: dict[str, Any] = {}
    for name in ("banned_words", "suspect_words"):
        if name in rules:
            words = rules[name]
            if isinstance(words, str):
                words = words.splitlines()
            cleaned[name] = sorted({" ".join(str(w).split()) for w in words if str(w).strip()})
            if any(len(w) > 100 for w in cleaned[name]) or len(cleaned[name]) > 5000:
                raise BadRequest("At most 5,000 words of 100 characters each.", field=name)
    for name, low, high in (
        ("max_links", 0, 100),
        ("new_commenter_burst", 0, 1000),
        ("flag_threshold", 1, 1000),
    ):
        if name in rules:
            value = rules[name]
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise BadRequest(f"{name} is a whole number from {low} to {high}.", field=name)
            cleaned[name] = value
    if "toxicity_threshold" in rules:
        value = rules["toxicity_threshold"]
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value <= 1:
            raise BadRequest(
                "toxicity_threshold is above 0 and at most 1 (1: off).", field="toxicity_threshold"
            )
        cleaned["toxicity_threshold"] = float(value)
    if "akismet_key" in rules:
        key = str(rules["akismet_key"] or "").strip()
        if len(key) > 64 or (key and not key.isalnum()):
            raise BadRequest("That is not an Akismet key.", field="akismet_key")
        cleaned["akismet_key"] = key
    return cleaned


def do_set_moderation_rules(site: Site, **rules: Any) -> Site:
    """Changes some of a site's moderation rules (``RULE_FIELDS``); the others stay."""
    cleaned = clean_moderation_rules(rules)
    with transaction.atomic():
        Site.objects.filter(pk=site.pk).update(**cleaned)
    for name, value in cleaned.items():
        setattr(site, name, value)
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


def do_set_stripe_keys(site: Site, *, secret_key: str, webhook_secret: str) -> Site:
    """Sets the site's Stripe secret key (``sk_…`` or a restricted ``rk_…``) and webhook signing
    secret (``whsec_…``); empty strings remove them. The values are never logged or returned."""
    secret_key, webhook_secret = secret_key.strip(), webhook_secret.strip()
    if secret_key and not secret_key.startswith(("sk_", "rk_")):
        raise BadRequest("A Stripe secret key starts with sk_ or rk_.", field="stripe_secret_key")
    if webhook_secret and not webhook_secret.startswith("whsec_"):
        raise BadRequest(
            "A webhook signing secret starts with whsec_.", field="stripe_webhook_secret"
        )
    if len(secret_key) > 255 or len(webhook_secret) > 255:
        raise BadRequest("That is not a Stripe key.")
    with transaction.atomic():
        Site.objects.filter(pk=site.pk).update(
            stripe_secret_key=secret_key, stripe_webhook_secret=webhook_secret
        )
    site.stripe_secret_key, site.stripe_webhook_secret = secret_key, webhook_secret
    return site


SIGN_IN_METHODS = ("guest", "email", "sso")


def do_set_sign_in(
    site: Site,
    *,
    methods: list[str] | None = None,
    guest_requires: list[str] | None = None,
    sso_algorithm: str | None = None,
    sso_secret: str | None = None,
    sso_public_key: str | None = None,
    sso_trust_email: bool | None = None,
    deletion_policy: str | None = None,
) -> Site:
    """Changes how readers of ``site`` sign in (``None`` keeps a setting as it is).

    The HS256 secret and the RS256 public key are checked for shape here; the secret is never
    logged or returned. Choosing an algorithm without its key is refused.
    """
    changes: dict[str, Any] = {}
    if methods is not None:
        unknown = set(methods) - set(SIGN_IN_METHODS)
        if unknown or not methods:
            raise BadRequest(
                f"Sign-in methods are some of {', '.join(SIGN_IN_METHODS)}.", field="methods"
            )
        for method in SIGN_IN_METHODS:
            changes[f"signin_{method}"] = method in methods
    if guest_requires is not None:
        if set(guest_requires) - {"name", "email"}:
            raise BadRequest("A guest may be required to give a name, an email.", field="guest")
        changes["guest_requires_name"] = "name" in guest_requires
        changes["guest_requires_email"] = "email" in guest_requires
    if sso_secret is not None:
        sso_secret = sso_secret.strip()
        if sso_secret and not 32 <= len(sso_secret) <= 255:
            raise BadRequest("An HS256 secret has 32 to 255 characters.", field="sso_secret")
        changes["sso_secret"] = sso_secret
    if sso_public_key is not None:
        sso_public_key = sso_public_key.strip()
        if sso_public_key:
            _check_public_key(sso_public_key)
        changes["sso_public_key"] = sso_public_key
    if sso_algorithm is not None:
        if sso_algorithm not in SsoAlgorithm.values:
            raise BadRequest("The SSO algorithm is HS256 or RS256.", field="sso_algorithm")
        changes["sso_algorithm"] = sso_algorithm
    if sso_trust_email is not None:
        changes["sso_trust_email"] = sso_trust_email
    if deletion_policy is not None:
        if deletion_policy not in DeletionPolicy.values:
            raise BadRequest(
                "The deletion policy is placeholder or anonymize.", field="deletion_policy"
            )
        changes["deletion_policy"] = deletion_policy
    for name, value in changes.items():
        setattr(site, name, value)
    if site.signin_sso:
        key = site.sso_secret if site.sso_algorithm == SsoAlgorithm.HS256 else site.sso_public_key
        if not key:
            raise BadRequest(
                f"SSO with {site.sso_algorithm} needs its "
                f"{'secret' if site.sso_algorithm == SsoAlgorithm.HS256 else 'public key'}.",
                field="sso",
            )
    with transaction.atomic():
        Site.objects.filter(pk=site.pk).update(**changes)
        if changes.keys() & _SHOWN_IN_THREAD_PAGES:
            _renew_thread_pages(site)
    return site


# The settings each thread page carries (discussions.pages, thread.signin) for the widget.
_SHOWN_IN_THREAD_PAGES = {
    "signin_guest",
    "signin_email",
    "signin_sso",
    "guest_requires_name",
    "guest_requires_email",
    "deletion_policy",
}


def _renew_thread_pages(site: Site) -> None:
    """A new version for each of the site's threads: pages cached with the old settings are no
    longer served. One short UPDATE a thread, in the caller's transaction."""
    for thread in Thread.objects.filter(site=site).only("id", "url_key", "site_id").iterator():
        thread.site = site
        bump_thread(thread, count_delta=0)


def _check_public_key(pem: str) -> None:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        key = load_pem_public_key(pem.encode())
    except ValueError:
        raise BadRequest("That is not a PEM public key.", field="sso_public_key") from None
    if not isinstance(key, RSAPublicKey) or key.key_size < 2048:
        raise BadRequest(
            "RS256 needs an RSA public key of 2048 bits or more.", field="sso_public_key"
        )
