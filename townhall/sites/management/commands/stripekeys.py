"""``townhall stripekeys SITE``: a site's Stripe secret key and webhook signing secret.

Secrets are never taken from the command line (they would stay in the shell's history and show
in ``ps``): they are read from standard input, one per line (``--stdin``), or asked for. An
empty line keeps the value already set; ``--clear`` removes both.
"""

from __future__ import annotations

import getpass
import sys
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser

from townhall.core.errors import TownhallError
from townhall.sites.actions import do_set_stripe_keys
from townhall.sites.models import Site


class Command(BaseCommand):
    help = "Set the Stripe secret key and webhook signing secret of a site (reader support)."
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("site", help="The site's slug.")
        parser.add_argument(
            "--stdin",
            action="store_true",
            help="Read the secret key, then the webhook secret, one per line from standard input.",
        )
        parser.add_argument("--clear", action="store_true", help="Remove both.")

    def handle(self, *args: Any, **options: Any) -> None:
        site = Site.objects.filter(slug=options["site"]).first()
        if site is None:
            raise CommandError(f"There is no site {options['site']!r}.")
        if options["clear"]:
            secret, webhook = "", ""
        else:
            source: TextIO = options.get("stdin") or sys.stdin
            secret, webhook = self.ask(source, from_stdin=options["stdin"])
            secret = secret or site.stripe_secret_key
            webhook = webhook or site.stripe_webhook_secret
        try:
            do_set_stripe_keys(site, secret_key=secret, webhook_secret=webhook)
        except TownhallError as error:
            raise CommandError(error.message) from None
        state = "set" if site.stripe_secret_key and site.stripe_webhook_secret else "incomplete"
        self.stdout.write(f"Stripe keys of {site.slug!r}: {state}.")

    def ask(self, source: TextIO, *, from_stdin: bool) -> tuple[str, str]:
        if from_stdin or not source.isatty():
            return source.readline().strip(), source.readline().strip()
        return (
            getpass.getpass("Stripe secret key (sk_…, empty: keep): ").strip(),
            getpass.getpass("Webhook signing secret (whsec_…, empty: keep): ").strip(),
        )
