from __future__ import annotations

import logging
import threading

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import close_old_connections

logger = logging.getLogger("townhall.worker")


class Command(BaseCommand):
    help = (
        "Run the background worker: sends notification email (django-tasks, database backend) "
        "and, every minute, queues the digests and the retries that are due. Run one or more "
        "beside the server."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch", action="store_true", help="Run every task that is due, then exit."
        )
        parser.add_argument(
            "--interval", type=float, default=0.5, help="Seconds between polls for new tasks."
        )
        parser.add_argument("--schedule-every", type=float, default=60.0)

    def handle(self, *args, **options):
        stop = threading.Event()
        if options["batch"]:
            self.schedule()
        else:
            thread = threading.Thread(
                target=self.schedule_forever, args=(stop, options["schedule_every"]), daemon=True
            )
            thread.start()
        try:
            call_command(
                "db_worker",
                batch=options["batch"],
                interval=options["interval"],
                startup_delay=False,
                verbosity=options["verbosity"],
            )
        finally:
            stop.set()

    def schedule(self) -> None:
        from townhall.notifications.tasks import queue_due_retries, send_due_digests

        send_due_digests.enqueue()
        queue_due_retries()

    def schedule_forever(self, stop: threading.Event, every: float) -> None:
        while not stop.is_set():
            try:
                self.schedule()
            except Exception:
                logger.exception("could not queue the periodic notification tasks")
            finally:
                close_old_connections()
            stop.wait(every)
