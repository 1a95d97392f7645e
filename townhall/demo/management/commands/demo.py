from django.core.management.base import BaseCommand

from townhall.demo.seed import article_url, load_demo


class Command(BaseCommand):
    help = "Create the demo site and load the seed article with its comments (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, **options):
        port = options["port"]
        site, loaded = load_demo(port)
        what = "loaded the seed comments" if loaded else "seed comments were already there"
        self.stdout.write(
            f"Demo site {site.slug!r} allows {', '.join(site.allowed_origins)}; {what}.\n"
            f"Article: {article_url(port)}"
        )
