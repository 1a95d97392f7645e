"""``townhall signin SITE``: how readers of a site sign in (docs/sso.md).

    townhall signin news --methods guest,email,sso --sso-hs256-secret-stdin < secret.txt
    townhall signin news --methods sso --sso-rs256-public-key publisher.pem
    townhall signin news --guest-requires name,email --deletion-policy anonymize

The HS256 secret is never taken from the command line (shell history, ``ps``): it is read from
standard input. Without options, prints the settings (never the secret).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser

from townhall.core.errors import TownhallError
from townhall.sites.actions import do_set_sign_in
from townhall.sites.models import Site


def _list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


class Command(BaseCommand):
    help = "Set how readers of a site sign in: guest, email link, publisher SSO."
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("site", help="The site's slug.")
        parser.add_argument("--methods", type=_list, help="Some of guest,email,sso.")
        parser.add_argument(
            "--guest-requires", type=_list, help="What a guest must give: name,email (or '')."
        )
        key = parser.add_mutually_exclusive_group()
        key.add_argument(
            "--sso-hs256-secret-stdin",
            action="store_true",
            help="Use HS256 with the shared secret read from standard input.",
        )
        key.add_argument(
            "--sso-rs256-public-key", type=Path, help="Use RS256 with this PEM public key file."
        )
        parser.add_argument(
            "--sso-trust-email",
            choices=["yes", "no"],
            help="Whether an email in the publisher's token counts as confirmed (default yes).",
        )
        parser.add_argument("--deletion-policy", choices=["placeholder", "anonymize"])

    def handle(self, *args: Any, **options: Any) -> None:
        site = Site.objects.filter(slug=options["site"]).first()
        if site is None:
            raise CommandError(f"There is no site {options['site']!r}.")
        changes: dict[str, Any] = {
            "methods": options["methods"],
            "guest_requires": options["guest_requires"],
            "deletion_policy": options["deletion_policy"],
        }
        if options["sso_trust_email"]:
            changes["sso_trust_email"] = options["sso_trust_email"] == "yes"
        if options["sso_hs256_secret_stdin"]:
            source: TextIO = options.get("stdin") or sys.stdin
            changes.update(sso_algorithm="HS256", sso_secret=source.readline().strip())
        elif options["sso_rs256_public_key"]:
            try:
                pem = options["sso_rs256_public_key"].read_text(encoding="ascii")
            except (OSError, UnicodeDecodeError) as error:
                raise CommandError(f"Cannot read the public key: {error}") from None
            changes.update(sso_algorithm="RS256", sso_public_key=pem)
        try:
            do_set_sign_in(site, **changes)
        except TownhallError as error:
            raise CommandError(error.message) from None
        methods = [m for m in ("guest", "email", "sso") if getattr(site, f"signin_{m}")]
        key = "secret set" if site.sso_secret else "no secret"
        if site.sso_algorithm == "RS256":
            key = "public key set" if site.sso_public_key else "no public key"
        required = [f for f in ("name", "email") if getattr(site, f"guest_requires_{f}")]
        self.stdout.write(
            f"Sign-in on {site.slug!r}: {', '.join(methods)}; SSO {site.sso_algorithm} ({key}); "
            f"guests give {', '.join(required) or 'nothing required'}; "
            f"deletion: {site.deletion_policy}."
        )
