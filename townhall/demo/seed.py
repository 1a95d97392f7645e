"""The demo site: the seed article (shared/seed-page.txt), its three comments and its reader
support campaign."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from townhall.discussions.actions import do_post_comment
from townhall.discussions.models import Thread
from townhall.discussions.pages import resolve_article
from townhall.moderation.actions import do_add_moderator
from townhall.sites.actions import do_create_site, do_set_sign_in, do_set_site_origins
from townhall.sites.models import Site
from townhall.support.actions import do_create_campaign, do_record_contribution
from townhall.support.models import Campaign, Checkout, ContributionSource

DEMO_SLUG = "demo"
DEMO_MODERATOR = "moderator"
MODERATOR_PASSWORD_FILE = "demo-moderator-password"  # noqa: S105 (a file name)
ARTICLE_PATH = "/2016/07/ankara-could-let-russia-use-turkeys-incirlik-airbase-to-fight-isis/"
CAMPAIGN_SLUG = "southfront"
# The seed page's goal bar: 3,048 $ raised of 5,000 $ (minor units: cents).
CAMPAIGN_GOAL = 500_000
SEED_CONTRIBUTIONS = (100_000, 75_000, 50_000, 40_000, 25_000, 10_000, 4_800)


@cache
def seed_article() -> dict:
    return json.loads((Path(__file__).parent / "seed_article.json").read_text(encoding="utf-8"))


def demo_origins(port: int) -> list[str]:
    return [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]


def article_url(port: int) -> str:
    """The article's canonical URL; both demo origins show this one thread."""
    return f"http://127.0.0.1:{port}{ARTICLE_PATH}"


def load_demo(port: int) -> tuple[Site, bool]:
    """Creates (or updates) the demo site for ``port`` and loads the seed comments once.

    Returns the site and whether comments were loaded now. Running it again changes nothing.
    """
    article = seed_article()
    with transaction.atomic():
        site = Site.objects.filter(slug=DEMO_SLUG).first()
        if site is None:
            site = do_create_site(
                slug=DEMO_SLUG, name="SouthFront (demo)", origins=demo_origins(port)
            )
        else:
            wanted = sorted(set(site.allowed_origins) | set(demo_origins(port)))
            site = do_set_site_origins(site, wanted)
        load_demo_campaign(site)
        load_demo_sign_in(site)
        url = article_url(port)
        if Thread.objects.filter(site=site, url_key=resolve_article(url).key).exists():
            return site, False
        posted: dict[str, int] = {}
        for item in article["comments"]:
            result = do_post_comment(
                site,
                url=url,
                title=article["title"],
                body=item["body"],
                parent_id=posted.get(item["parent"]) if item["parent"] else None,
                author_name=item["author"],
            )
            posted[item["key"]] = result.comment.pk
    return site, True


def load_demo_sign_in(site: Site) -> Site:
    """Guests, magic links and the demo's publisher login (SSO, HS256) all sign in. The SSO
    secret is made here, once, and kept only in the database: never in the repository."""
    secret = site.sso_secret or secrets.token_urlsafe(48)
    return do_set_sign_in(
        site, methods=["guest", "email", "sso"], sso_algorithm="HS256", sso_secret=secret
    )


def load_demo_campaign(site: Site) -> Campaign:
    """The demo's campaign, "Support SouthFront", with test checkout (no Stripe account) and
    the seed page's figures: settled contributions of 3,048 $ toward 5,000 $. Each seed
    contribution has an external id, so running it again adds nothing."""
    campaign = Campaign.objects.filter(site=site, slug=CAMPAIGN_SLUG).first()
    if campaign is None:
        campaign = do_create_campaign(
            site,
            slug=CAMPAIGN_SLUG,
            title="Support SouthFront",
            currency="USD",
            goal=CAMPAIGN_GOAL,
            checkout=Checkout.TEST,
            support_prompt=True,
        )
    for number, amount in enumerate(SEED_CONTRIBUTIONS, start=1):
        do_record_contribution(
            campaign,
            amount=amount,
            currency="USD",
            source=ContributionSource.MANUAL,
            external_id=f"{campaign.pk}:demo-seed-{number}",
            note="Seed contribution (demo)",
        )
    campaign.refresh_from_db()
    return campaign


@dataclass(frozen=True)
class DemoModerator:
    username: str
    password: str
    password_file: Path
    new_password: bool  # made by this run (else read from the file)


def load_demo_moderator(site: Site) -> DemoModerator:
    """The demo's moderator account, ``moderator``, for ``site``: its random password is kept in
    ``<TOWNHALL_VAR_DIR>/demo-moderator-password`` (mode 0600). Running it again changes nothing;
    with the file already there, its password is the account's when the account is created."""
    path = Path(settings.VAR_DIR) / MODERATOR_PASSWORD_FILE
    password, new = _demo_password(path)
    User = get_user_model()
    with transaction.atomic():
        user = User.objects.filter(username=DEMO_MODERATOR).first()
        if user is None:
            user = User.objects.create_user(DEMO_MODERATOR, password=password)
        elif new:
            user.set_password(password)
            user.save(update_fields=["password"])
        do_add_moderator(user, site)
    return DemoModerator(DEMO_MODERATOR, password, path, new)


def _demo_password(path: Path) -> tuple[str, bool]:
    try:
        return path.read_text("utf-8").strip(), False
    except FileNotFoundError:
        pass
    password = secrets.token_urlsafe(12)
    try:  # O_EXCL: of two runs at once, one writes and the other reads
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text("utf-8").strip(), False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(password + "\n")
    return password, True
