"""``townhall contribution add|import``: contributions received outside Townhall.

``import`` reads a CSV file (columns date, amount, currency, external_id, note): a file with
any bad row writes nothing, and every bad row is listed with its line number; ``--dry-run``
reports what would be written.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from townhall.core.errors import TownhallError
from townhall.support.actions import do_record_contribution
from townhall.support.imports import describe, do_import_contributions
from townhall.support.management.commands.campaign import campaign_by_name
from townhall.support.models import ContributionSource
from townhall.support.money import format_money, locale_for, parse_amount


class Command(BaseCommand):
    help = "Add one contribution, or import a CSV file of them, to a campaign."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="command", required=True, metavar="add|import")
        add = commands.add_parser("add", help="One contribution, counted as settled.")
        add.add_argument("--campaign", required=True, metavar="SITE/SLUG")
        add.add_argument("amount", help='In major units: "25.00".')
        add.add_argument("--date", help="YYYY-MM-DD (default: now).")
        add.add_argument("--note", default="")
        add.add_argument("--external-id", help="Its id elsewhere: adding it again does nothing.")
        load = commands.add_parser("import", help="A CSV file of contributions.")
        load.add_argument("--campaign", required=True, metavar="SITE/SLUG")
        load.add_argument("file", type=Path)
        load.add_argument("--dry-run", action="store_true", help="Check and report; write nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["command"] == "add":
                self.add(options)
            else:
                self.load(options)
        except TownhallError as error:
            raise CommandError(error.message) from None

    def add(self, options: dict[str, Any]) -> None:
        campaign = campaign_by_name(options["campaign"])
        try:
            amount = parse_amount(options["amount"], campaign.currency)
            day = date.fromisoformat(options["date"]) if options["date"] else None
        except ValueError as error:
            raise CommandError(f"{error}.") from None
        given = options["external_id"]
        recorded = do_record_contribution(
            campaign,
            amount=amount,
            currency=campaign.currency,
            source=ContributionSource.MANUAL,
            external_id=f"{campaign.pk}:{given}" if given else None,
            note=options["note"],
            settled_at=datetime.combine(day, time(), tzinfo=UTC) if day else None,
        )
        shown = format_money(amount, campaign.currency, locale_for("en"))
        if not recorded.created:
            self.stdout.write(f"A contribution with external id {given!r} is there already.")
        else:
            self.stdout.write(f"Added {shown} to {options['campaign']}.")

    def load(self, options: dict[str, Any]) -> None:
        campaign = campaign_by_name(options["campaign"])
        try:
            text = options["file"].read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"Cannot read {options['file']}: {error}") from None
        report = do_import_contributions(campaign, text, dry_run=options["dry_run"])
        lines = describe(report, campaign.currency)
        if not report.ok:
            raise CommandError("\n".join(lines))
        self.stdout.write("\n".join(lines))
