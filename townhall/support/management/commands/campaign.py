"""``townhall campaign create|list|show``: a site's fundraising campaigns.

Amounts are typed in major units as decimal strings ("5000.00") and stored as minor units.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from townhall.core.errors import TownhallError
from townhall.sites.models import Site
from townhall.support import queries
from townhall.support.actions import do_create_campaign
from townhall.support.models import Campaign, Checkout
from townhall.support.money import clean_currency, format_money, locale_for, parse_amount


class Command(BaseCommand):
    help = "Create, list or show a site's reader-support campaigns."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="command", required=True, metavar="create|list|show")
        create = commands.add_parser("create", help="A new campaign for a site.")
        create.add_argument("site", help="The site's slug.")
        create.add_argument("slug", help="The campaign's slug (unique within the site).")
        create.add_argument("--title", required=True)
        create.add_argument("--currency", required=True, help="ISO 4217: USD, EUR, JPY…")
        create.add_argument("--goal", required=True, help='In major units: "5000.00".')
        create.add_argument(
            "--stretch", action="append", default=[], help="A stretch goal (repeat, ascending)."
        )
        create.add_argument("--starts", help="ISO 8601 (default: now).")
        create.add_argument("--ends", help="ISO 8601 (default: open-ended).")
        create.add_argument("--checkout", choices=Checkout.values, default=Checkout.STRIPE)
        create.add_argument("--donation-url", default="")
        create.add_argument(
            "--prompt", action="store_true", help="Ask readers for support after they post."
        )
        listing = commands.add_parser("list", help="A site's campaigns.")
        listing.add_argument("site")
        show = commands.add_parser("show", help="One campaign, its total checked against its rows.")
        show.add_argument("campaign", metavar="SITE/SLUG")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, options["command"])(options)
        except TownhallError as error:
            raise CommandError(error.message) from None

    def create(self, options: dict[str, Any]) -> None:
        site = site_by_slug(options["site"])
        currency = clean_currency(options["currency"])
        campaign = do_create_campaign(
            site,
            slug=options["slug"],
            title=options["title"],
            currency=currency,
            goal=_amount(options["goal"], currency, "--goal"),
            stretch_goals=[_amount(value, currency, "--stretch") for value in options["stretch"]],
            starts=_moment(options["starts"], "--starts"),
            ends=_moment(options["ends"], "--ends"),
            checkout=options["checkout"],
            donation_url=options["donation_url"],
            support_prompt=options["prompt"],
        )
        self.stdout.write(f"Created campaign {site.slug}/{campaign.slug}: {_line(campaign)}")

    def list(self, options: dict[str, Any]) -> None:
        site = site_by_slug(options["site"])
        found = queries.site_campaigns(site)
        lines = [f"{site.slug}/{campaign.slug}\t{_line(campaign)}" for campaign in found]
        self.stdout.write("\n".join(lines) if lines else f"Site {site.slug!r} has no campaign.")

    def show(self, options: dict[str, Any]) -> None:
        campaign = campaign_by_name(options["campaign"])
        counted = queries.settled_sum(campaign)
        check = "matches" if counted == campaign.settled_total else f"DIFFERS: rows sum {counted}"
        ends = campaign.ends.isoformat() if campaign.ends else "open-ended"
        self.stdout.write(
            f"{campaign.title}\n"
            f"  {_line(campaign)}\n"
            f"  raised (minor units): {campaign.settled_total} ({check})\n"
            f"  runs: {campaign.starts.isoformat()} to {ends}"
            f"{'' if queries.is_active(campaign) else ' (not running)'}\n"
            f"  checkout: {campaign.checkout}"
            f"{' ' + campaign.donation_url if campaign.donation_url else ''}; "
            f"support prompt: {'on' if campaign.support_prompt else 'off'}"
        )


def site_by_slug(slug: str) -> Site:
    site = Site.objects.filter(slug=slug).first()
    if site is None:
        known = ", ".join(Site.objects.order_by("slug").values_list("slug", flat=True)) or "none"
        raise CommandError(f"There is no site {slug!r} (sites: {known}).")
    return site


def campaign_by_name(name: str) -> Campaign:
    """``SITE/SLUG`` → the campaign."""
    site_slug, _, slug = name.partition("/")
    if not slug:
        raise CommandError(f"Name a campaign as SITE/SLUG, not {name!r}.")
    return queries.access_campaign(site_by_slug(site_slug), slug)


def _amount(text: str, currency: str, option: str) -> int:
    try:
        return parse_amount(text, currency)
    except ValueError as error:
        raise CommandError(f"{option}: {error}.") from None


def _moment(text: str | None, option: str) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{option}: {text!r} is not ISO 8601 (2026-12-01T00:00:00Z).") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _line(campaign: Campaign) -> str:
    where = locale_for("en")
    raised = format_money(campaign.settled_total, campaign.currency, where)
    goal = format_money(campaign.goal, campaign.currency, where)
    return f"{raised} of {goal} ({campaign.currency}); {campaign.title}"
