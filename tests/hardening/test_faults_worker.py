"""Fault test: the worker killed (SIGKILL) while it sends a batch of notifications.

A real `townhall worker` process sends one comment's mail to five subscribers through a real SMTP
server (aiosmtpd) that holds one message before answering it. The worker is killed while it waits
for that answer, then a new worker is started. The SMTP server keeps a message only once it has
answered 250 to it (what a server does: a message whose acceptance the client never saw is not
delivered), so the mailbox holds exactly what readers would get:

* killed at the first message: everything is sent by the next worker, once its claim runs out;
* killed at the third, after the server took two: the next worker sends the other three and
  not the two again, because each message is recorded sent as soon as it is accepted.

Every address gets exactly one copy, and every delivery ends up sent. The database is a SQLite
file of its own (worker processes cannot reach the test's in-memory one): the SQLite pass runs it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.db import connection

from tests.hardening._services import wait_for
from tests.notifications.conftest import PUBLIC_URL, free_port

pytestmark = pytest.mark.skipif(
    connection.vendor != "sqlite",
    reason="makes its own SQLite database for its worker processes: in the SQLite pass only",
)

SUBSCRIBERS = 5
LEASE_SECONDS = 2
SETUP = f"""
from townhall.discussions.actions import do_open_thread, do_post_comment
from townhall.notifications import tasks
from townhall.notifications.actions import do_confirm_subscriber, do_subscribe
from townhall.sites.actions import do_create_site

site = do_create_site(slug="news", name="News Example", origins=["https://news.example"])
thread = do_open_thread(site, url="https://news.example/a/")
for n in range({SUBSCRIBERS}):
    subscriber = do_subscribe(site, email=f"reader{{n}}@example.com", thread=thread, kind="thread")
    do_confirm_subscriber(subscriber.subscriber)
comment = do_post_comment(site, url="https://news.example/a/", body="Once each.").comment
tasks.fan_out_comment.call(comment.pk)  # queues one batch of {SUBSCRIBERS}
"""
RESULT = """
import json
from townhall.notifications.models import Delivery
print(json.dumps(sorted(Delivery.objects.values_list("status", flat=True))))
"""


class HoldingMailbox:
    """Keeps each message it answers 250; holds the ``hold_at``-th message (counting from 1)
    unanswered until released. A message whose client went away before the answer is dropped."""

    def __init__(self, hold_at: int) -> None:
        self.hold_at = hold_at
        self.holding = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._received = 0
        self.delivered: list[tuple[str, str]] = []  # (recipient, Message-ID)

    async def handle_DATA(self, server, session, envelope) -> str:
        with self._lock:
            self._received += 1
            held = self._received == self.hold_at
        if held:
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
        transport = server.transport
        if transport is None or transport.is_closing():
            return "451 The client went away"  # never seen by anyone: not delivered
        message_id = ""
        for line in envelope.content.splitlines():
            if line.lower().startswith(b"message-id:"):
                message_id = line.split(b":", 1)[1].strip().decode()
        with self._lock:
            self.delivered.extend((rcpt, message_id) for rcpt in envelope.rcpt_tos)
        return "250 Message accepted for delivery"

    def copies(self) -> Counter[str]:
        with self._lock:
            return Counter(recipient for recipient, _ in self.delivered)


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> Path:
    """A migrated SQLite database, copied for each test."""
    var = tmp_path_factory.mktemp("worker-faults")
    _townhall(var, 0, "migrate", "--verbosity", "0")
    return var / "townhall.sqlite3"


def _env(var: Path, smtp_port: int) -> dict[str, str]:
    env = {
        **os.environ,
        "TOWNHALL_VAR_DIR": str(var),
        "TOWNHALL_SECRET_KEY": "test-only",
        "TOWNHALL_EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        "TOWNHALL_PUBLIC_URL": PUBLIC_URL,
        "TOWNHALL_DELIVERY_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    env.pop("TOWNHALL_DATABASE_URL", None)
    env.pop("TOWNHALL_REDIS_URL", None)
    return env


def _townhall(var: Path, smtp_port: int, *args: str) -> str:
    done = subprocess.run(  # noqa: S603 (our own interpreter and arguments)
        [sys.executable, "-m", "townhall.cli", *args],
        env=_env(var, smtp_port),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _worker(var: Path, smtp_port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "townhall.cli", "worker", "--schedule-every", "0.5"],
        env=_env(var, smtp_port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.fixture
def stopped_at_the_end() -> Iterator[list[subprocess.Popen]]:
    workers: list[subprocess.Popen] = []
    yield workers
    for worker in workers:
        if worker.poll() is None:
            worker.kill()
        worker.wait(timeout=10)
        if worker.stderr:
            worker.stderr.close()


@pytest.mark.parametrize(
    ("hold_at", "accepted_before_the_kill"),
    [(1, 0), (3, 2)],
    ids=["killed-at-the-first-message", "killed-after-two-were-accepted"],
)
def test_a_worker_killed_while_sending_loses_no_mail_and_sends_none_twice(
    migrated, tmp_path, stopped_at_the_end, hold_at, accepted_before_the_kill
):
    shutil.copy(migrated, tmp_path / "townhall.sqlite3")
    mailbox = HoldingMailbox(hold_at)
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        _townhall(tmp_path, smtp.port, "shell", "--verbosity", "0", "--command", SETUP)
        first = _worker(tmp_path, smtp.port)
        stopped_at_the_end.append(first)
        assert mailbox.holding.wait(timeout=30), "the worker never sent the held message"
        assert sum(mailbox.copies().values()) == accepted_before_the_kill
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        mailbox.release.set()

        second = _worker(tmp_path, smtp.port)
        stopped_at_the_end.append(second)
        wait_for(
            lambda: sum(mailbox.copies().values()) >= SUBSCRIBERS,
            timeout=30,
            what="the second worker to send the rest",
        )
        # Long enough for a second copy to come: a whole lease more, swept twice a second.
        time.sleep(LEASE_SECONDS + 1)
        assert second.poll() is None, second.stderr.read() if second.stderr else ""
        statuses = json.loads(
            _townhall(tmp_path, smtp.port, "shell", "--verbosity", "0", "--command", RESULT)
        )
    finally:
        mailbox.release.set()
        smtp.stop()

    assert mailbox.copies() == Counter({f"reader{n}@example.com": 1 for n in range(SUBSCRIBERS)})
    assert statuses == ["sent"] * SUBSCRIBERS
    assert len({message_id for _, message_id in mailbox.delivered}) == SUBSCRIBERS
