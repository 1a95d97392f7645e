from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Serve Townhall with an ASGI server (uvicorn with uvloop and httptools)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            help="Processes. More than one needs TOWNHALL_REDIS_URL so they share one cache.",
        )
        parser.add_argument("--log-level", default="info")
        parser.add_argument("--access-log", action="store_true", help="Log every request line.")

    def handle(self, *args, **options):
        import uvicorn

        workers = options["workers"]
        if workers < 1:
            raise CommandError("--workers must be at least 1")
        if workers > 1 and not settings.REDIS_URL:
            self.stderr.write(
                "Note: without TOWNHALL_REDIS_URL each worker has its own cache and rate limits."
            )
        uvicorn.run(
            "townhall.config.asgi:application",
            host=options["host"],
            port=options["port"],
            workers=workers,
            log_level=options["log_level"],
            # Access lines hold article URLs and client addresses; off unless asked for.
            access_log=options["access_log"],
            lifespan="off",
            proxy_headers=False,
        )
