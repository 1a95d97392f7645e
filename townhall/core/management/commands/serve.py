from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Serve Townhall over HTTP with Granian (ASGI)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            help="Processes. With more than one, set TOWNHALL_REDIS_URL so they share state.",
        )
        parser.add_argument("--log-level", default="info")
        parser.add_argument("--access-log", action="store_true", help="Log every request line.")

    def handle(self, *args, **options):
        # Granian over uvicorn: measured side by side by `make bench` (docs/benchmarks.md,
        # "Choosing the ASGI server"), about 1.5x uvicorn's requests/s on the thread read path.
        from granian import Granian
        from granian.constants import Interfaces

        workers = options["workers"]
        if workers < 1:
            raise CommandError("--workers must be at least 1")
        if workers > 1 and not settings.REDIS_URL:
            self.stderr.write(
                "Note: without TOWNHALL_REDIS_URL each worker has its own cache and rate limits;"
                " a write reaches the other workers' readers within 2 seconds."
            )
        Granian(
            "townhall.config.asgi:application",
            address=options["host"],
            port=options["port"],
            interface=Interfaces.ASGINL,  # ASGI without lifespan events, which Django lacks
            workers=workers,
            websockets=False,
            log_level=options["log_level"],
            # Access lines hold article URLs and client addresses; off unless asked for.
            log_access=options["access_log"],
            respawn_failed_workers=True,
            backlog=2048,
            # Requests in flight per worker: Granian's default (backlog / workers) would cap the
            # open live event streams of a worker at about a thousand.
            backpressure=settings.LIVE_MAX_STREAMS + 1024,
        ).serve()
