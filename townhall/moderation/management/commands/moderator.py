"""``townhall moderator add|remove|list``: who may use the moderators' pages (/moderate/).

A password is never taken from the command line (it would be in the shell's history and in
``ps``): ``--password-stdin`` reads it from standard input, else it is asked for.
"""

from __future__ import annotations

import getpass
import sys
from typing import Any, TextIO

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email
from django.db import transaction

from townhall.moderation import actions
from townhall.moderation.models import SiteModerator
from townhall.sites.models import Site


class Command(BaseCommand):
    help = "Add, remove or list the accounts that moderate a site at /moderate/."
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="command", required=True, metavar="add|remove|list")
        add = commands.add_parser("add", help="Let an account (made if missing) moderate a site.")
        add.add_argument("username")
        add.add_argument("--site", required=True, help="The site's slug.")
        add.add_argument("--email", default="", help="For a new account: its email address.")
        add.add_argument(
            "--password-stdin",
            action="store_true",
            help="Read the password from standard input (else it is asked for, for a new account).",
        )
        remove = commands.add_parser("remove", help="Stop an account moderating a site.")
        remove.add_argument("username")
        remove.add_argument("--site", required=True, help="The site's slug.")
        commands.add_parser("list", help="Every moderator and their sites.")

    def handle(self, *args: Any, **options: Any) -> None:
        self.input: TextIO = options.get("stdin") or sys.stdin
        command = options["command"]
        if command == "add":
            self.add(options)
        elif command == "remove":
            self.remove(options)
        else:
            self.list_moderators()

    def add(self, options: dict[str, Any]) -> None:
        site = _site(options["site"])
        User = get_user_model()
        user = User.objects.filter(username=options["username"]).first()
        password = self.password(new=user is None, from_stdin=options["password_stdin"])
        with transaction.atomic():
            if user is None:
                user = User.objects.create_user(
                    options["username"], email=_email(options["email"]), password=password
                )
                created = " (new account)"
            else:
                if password is not None:
                    user.set_password(password)
                    user.save(update_fields=["password"])
                created = " (password changed)" if password is not None else ""
            actions.do_add_moderator(user, site)
        self.stdout.write(f"{user.get_username()}{created} moderates {site.slug!r}.")

    def remove(self, options: dict[str, Any]) -> None:
        site = _site(options["site"])
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"There is no account {options['username']!r}.")
        if not actions.do_remove_moderator(user, site):
            raise CommandError(f"{user.get_username()} does not moderate {site.slug!r}.")
        note = " (a superuser still moderates every site)" if user.is_superuser else ""
        self.stdout.write(f"{user.get_username()} no longer moderates {site.slug!r}{note}.")

    def list_moderators(self) -> None:
        rows = SiteModerator.objects.select_related("user", "site").order_by(
            "user__username", "site__slug"
        )
        lines = [f"{row.user.get_username()}\t{row.site.slug}" for row in rows]
        superusers = get_user_model().objects.filter(is_superuser=True, is_active=True)
        lines += [f"{user.get_username()}\t(every site: superuser)" for user in superusers]
        self.stdout.write("\n".join(lines) if lines else "No moderators yet.")

    def password(self, *, new: bool, from_stdin: bool) -> str | None:
        """The new password: from standard input, or asked for (new accounts only)."""
        if from_stdin:
            password = self.input.readline().rstrip("\r\n")
        elif not new:
            return None
        elif not self.input.isatty():
            raise CommandError(
                "A new account needs a password: pass it on standard input with "
                "--password-stdin (never as an argument)."
            )
        else:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The two passwords differ.")
        if not password:
            raise CommandError("The password is empty.")
        try:
            validate_password(password)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        return password


def _site(slug: str) -> Site:
    site = Site.objects.filter(slug=slug).first()
    if site is None:
        known = ", ".join(Site.objects.order_by("slug").values_list("slug", flat=True)) or "none"
        raise CommandError(f"There is no site {slug!r} (sites: {known}).")
    return site


def _email(email: str) -> str:
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise CommandError(f"{email!r} is not an email address.") from None
    return email
