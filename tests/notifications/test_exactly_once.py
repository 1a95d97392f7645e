"""Exactly one mail per comment per address: however many subscriptions match, however often
the fan-out runs, however many workers run at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
from django.db import connection
from django.db.models import QuerySet
from django_tasks_db.management.commands import db_worker

from tests.conftest import ARTICLE
from tests.notifications.conftest import (
    PUBLIC_URL,
    confirmed_subscribers,
    post,
    run_worker,
    subscribe,
    subscribe_confirmed,
)
from townhall.discussions.actions import do_open_thread
from townhall.notifications import tasks
from townhall.notifications.models import Delivery, DeliveryStatus

pytestmark = pytest.mark.django_db(transaction=True)

READER = "reader@example.com"


def test_an_address_subscribed_every_way_gets_one_mail(api, site, mailbox):
    mine = post(api, site, "Mine.", author_email=READER, notify_replies=True)
    run_worker()
    subscribe_confirmed(api, mailbox, site, READER)  # the thread
    assert subscribe(api, site, READER, kind="replies").status_code == 202
    mailbox.clear()

    post(api, site, "A reply to the reader.", parent_id=mine["id"])
    post(api, site, "A top-level comment.")
    run_worker()
    mails = mailbox.to(READER)
    assert len(mails) == 2
    assert "A reply to the reader." in mails[0].text
    assert "replied to you" in mails[0].subject  # the more specific reason wins
    assert "A top-level comment." in mails[1].text


def test_fanning_out_twice_sends_once(api, site, mailbox):
    subscribe_confirmed(api, mailbox, site, READER)
    subscribe_confirmed(api, mailbox, site, "second@example.com")
    mailbox.clear()

    comment = post(api, site, "Only once, please.")
    tasks.fan_out_comment.enqueue(comment["id"])  # as if the signal had been sent twice
    run_worker()
    tasks.fan_out_comment.enqueue(comment["id"])  # and once more after it was all sent
    run_worker()
    assert len(mailbox.to(READER)) == 1
    assert len(mailbox.to("second@example.com")) == 1
    assert len(mailbox) == 2


SUBSCRIBERS = 60


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason=(
        "the test database on SQLite is a shared in-memory database, whose table locks fail at "
        "once ('database table is locked') instead of waiting like WAL on a file"
    ),
)
def test_two_workers_at_once_send_each_address_one_mail(api, site, mailbox, monkeypatch):
    thread = do_open_thread(site, url=ARTICLE)
    addresses = [f"reader{n}@example.com" for n in range(SUBSCRIBERS)]
    confirmed_subscribers(site, thread, addresses)
    # Small batches, each queued twice side by side (as when two fan-outs of one comment run at
    # the same moment), so the two workers take the twins together and claim the same
    # deliveries at once. The fan-out is also queued twice, so the workers fan out at once too.
    monkeypatch.setattr(tasks, "BATCH", 7)
    enqueue_in_batches = tasks._enqueue_in_batches

    def enqueue_twice(ids: list[int]) -> None:
        for start in range(0, len(ids), tasks.BATCH):
            enqueue_in_batches(ids[start : start + tasks.BATCH])
            enqueue_in_batches(ids[start : start + tasks.BATCH])

    monkeypatch.setattr(tasks, "_enqueue_in_batches", enqueue_twice)
    comment = post(api, site, "Everyone, once.")
    tasks.fan_out_comment.enqueue(comment["id"])
    # A claim reads the deliveries, then marks them as being sent: widen the gap between the two
    # so that claims of the same deliveries really overlap (a claim that did not lock them would
    # hand them to both workers).
    update = QuerySet.update

    def slow_claim(self, **fields):
        if self.model is Delivery and fields.get("status") == DeliveryStatus.SENDING:
            time.sleep(0.05)
        return update(self, **fields)

    monkeypatch.setattr(QuerySet, "update", slow_claim)
    # Signal handlers can only be installed from the main thread; these workers run in others.
    monkeypatch.setattr(db_worker.Worker, "configure_signals", lambda self: None)

    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            run_worker()
        except BaseException as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread_ in threads:
        thread_.start()
    for thread_ in threads:
        thread_.join(timeout=60)
    assert errors == []

    received = Counter(address for mail in mailbox.mails for address in mail.recipients)
    assert received == Counter({address: 1 for address in addresses})
    deliveries = Delivery.objects.filter(comment_id=comment["id"])
    assert deliveries.count() == SUBSCRIBERS
    assert set(deliveries.values_list("status", "attempts")) == {(DeliveryStatus.SENT, 1)}


# For the SQLite pass: the same race between two worker processes, as deployed, on a SQLite file
# (WAL, BEGIN IMMEDIATE, a 20 s busy timeout) made for this test.
SQLITE_SETUP = """
from townhall.discussions.actions import do_open_thread, do_post_comment
from townhall.notifications import tasks
from townhall.notifications.actions import do_confirm_subscriber, do_subscribe
from townhall.sites.actions import do_create_site

site = do_create_site(slug="news", name="News Example", origins=["https://news.example"])
thread = do_open_thread(site, url="https://news.example/a/")
for n in range(60):  # SUBSCRIBERS
    subscriber = do_subscribe(site, email=f"reader{n}@example.com", thread=thread, kind="thread")
    do_confirm_subscriber(subscriber.subscriber)
comment = do_post_comment(site, url="https://news.example/a/", body="Everyone, once.").comment
tasks.BATCH = 7
tasks.fan_out_comment.call(comment.pk)
tasks.fan_out_comment.call(comment.pk)
"""
SQLITE_RESULT = """
import json
from django_tasks_db.models import DBTaskResult
from townhall.notifications.models import Delivery
print(json.dumps({
    "deliveries": sorted(Delivery.objects.values_list("status", "attempts").distinct()),
    "tasks": sorted(set(DBTaskResult.objects.values_list("status", flat=True))),
}))
"""


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="makes its own SQLite database; the SQLite pass runs it"
)
def test_two_worker_processes_on_a_sqlite_file(mailbox, settings, tmp_path):
    env = {
        **os.environ,
        "TOWNHALL_VAR_DIR": str(tmp_path),
        "TOWNHALL_SECRET_KEY": "test-only",
        "TOWNHALL_EMAIL_URL": f"smtp://127.0.0.1:{settings.EMAIL_PORT}",
        "TOWNHALL_PUBLIC_URL": PUBLIC_URL,
    }
    env.pop("TOWNHALL_DATABASE_URL", None)
    env.pop("TOWNHALL_REDIS_URL", None)
    townhall = [sys.executable, "-m", "townhall.cli"]

    def run(*args: str) -> str:
        done = subprocess.run(  # noqa: S603 (our own interpreter and arguments)
            [*townhall, *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    run("migrate", "--verbosity", "0")
    run("shell", "--verbosity", "0", "--command", SQLITE_SETUP)
    workers = [
        subprocess.Popen(  # noqa: S603
            [*townhall, "worker", "--batch", "--verbosity", "0"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for worker in workers:
        _out, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err

    received = Counter(address for mail in mailbox.mails for address in mail.recipients)
    assert received == Counter({f"reader{n}@example.com": 1 for n in range(SUBSCRIBERS)})
    result = json.loads(run("shell", "--verbosity", "0", "--command", SQLITE_RESULT))
    assert result["deliveries"] == [["sent", 1]]
    assert result["tasks"] == ["SUCCESSFUL"]
