from django.core.management.base import BaseCommand

from townhall.demo.seed import CAMPAIGN_SLUG, article_url, load_demo, load_demo_moderator
from townhall.support.models import Campaign
from townhall.support.money import format_money, locale_for


class Command(BaseCommand):
    help = (
        "Create the demo site, load the seed article with its comments and create the demo's "
        "moderator account (idempotent)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, **options):
        port = options["port"]
        site, loaded = load_demo(port)
        moderator = load_demo_moderator(site)
        what = "loaded the seed comments" if loaded else "seed comments were already there"
        self.stdout.write(
            f"Demo site {site.slug!r} allows {', '.join(site.allowed_origins)}; {what}.\n"
            f"Article: {article_url(port)}"
        )
        campaign = Campaign.objects.get(site=site, slug=CAMPAIGN_SLUG)

        def money(amount: int) -> str:
            return format_money(amount, campaign.currency, locale_for("en"))

        self.stdout.write(
            f"Campaign {site.slug}/{campaign.slug}: {money(campaign.settled_total)} raised of "
            f"{money(campaign.goal)}; its checkout is a test (no money moves)."
        )
        moderate = f"http://127.0.0.1:{port}/moderate/"
        if moderator.new_password:
            # Shown this once; it stays in the file (mode 0600) for later runs.
            self.stdout.write(
                f"Moderation: {moderate} as {moderator.username} / {moderator.password}"
            )
        else:
            self.stdout.write(
                f"Moderation: {moderate} as {moderator.username} "
                f"(password in {moderator.password_file})"
            )
