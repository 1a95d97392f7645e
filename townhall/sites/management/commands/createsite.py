from django.core.management.base import BaseCommand, CommandError

from townhall.core.errors import TownhallError
from townhall.sites.actions import do_create_site
from townhall.sites.models import ModerationMode


class Command(BaseCommand):
    help = "Create a publisher site and the origins allowed to embed its widget."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", default="")
        parser.add_argument(
            "--origin",
            action="append",
            default=[],
            dest="origins",
            help="An allowed origin such as https://news.example (repeat for several).",
        )
        parser.add_argument(
            "--moderation", choices=ModerationMode.values, default=ModerationMode.POST
        )
        parser.add_argument("--edit-window", type=int, default=15 * 60, help="Seconds.")
        parser.add_argument("--max-depth", type=int, default=10)
        parser.add_argument(
            "--moderator-email",
            action="append",
            default=[],
            dest="moderator_emails",
            help="Told by email when comments wait for moderation (repeat for several).",
        )

    def handle(self, *args, **options):
        try:
            site = do_create_site(
                slug=options["slug"],
                name=options["name"],
                origins=options["origins"],
                moderation_mode=options["moderation"],
                edit_window_seconds=options["edit_window"],
                max_depth=options["max_depth"],
                moderator_emails=options["moderator_emails"],
            )
        except TownhallError as error:
            raise CommandError(error.message) from None
        origins = ", ".join(site.allowed_origins) or "none"
        self.stdout.write(f"Created site {site.slug!r} ({site.name}); allowed origins: {origins}")
