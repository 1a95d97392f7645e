"""A worker killed while sending: its claim on the mail runs out and the sweep sends what it had
not recorded sent, once; what it had recorded is never sent again. (The same with real worker
processes killed by SIGKILL: tests/hardening/test_faults_worker.py.)"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.conftest import ARTICLE
from tests.notifications.conftest import (
    confirmed_subscribers,
    post,
    run_worker,
    subscribe_confirmed,
    time_passes,
)
from townhall.discussions.actions import do_open_thread
from townhall.notifications import actions, app_settings, tasks
from townhall.notifications.models import Delivery, DeliveryStatus

pytestmark = pytest.mark.django_db(transaction=True)

READER = "reader@example.com"
LEASE = app_settings.delivery_lease()


def killed_while_sending(comment_id: int) -> list[Delivery]:
    """Claims the comment's mail as a worker does, then sends nothing: the worker died."""
    ids = list(Delivery.objects.filter(comment_id=comment_id).values_list("pk", flat=True))
    return actions.claim_deliveries(ids)


def lease_runs_out() -> None:
    Delivery.objects.filter(lease_until__isnull=False).update(
        lease_until=timezone.now() - timedelta(seconds=1)
    )


def fanned_out(api, site, body: str) -> int:
    """A comment whose deliveries are recorded and whose immediate mail task is not run."""
    comment = post(api, site, body)
    tasks.fan_out_comment.call(comment["id"])
    return comment["id"]


def test_the_sweep_sends_mail_whose_worker_was_killed_once_its_claim_runs_out(api, site, mailbox):
    thread = do_open_thread(site, url=ARTICLE)
    addresses = [f"reader{n}@example.com" for n in range(3)]
    confirmed_subscribers(site, thread, addresses)
    comment_id = fanned_out(api, site, "Sent by the second worker.")
    claimed = killed_while_sending(comment_id)
    assert len(claimed) == 3
    assert all(delivery.lease_until > timezone.now() + LEASE / 2 for delivery in claimed)

    # While the claim lasts, no one else sends it (the dead worker might still be alive).
    assert tasks.queue_due_retries() == 0
    run_worker()
    assert len(mailbox) == 0
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENDING}

    lease_runs_out()
    assert tasks.queue_due_retries() == 3
    run_worker()
    assert sorted(r for mail in mailbox.mails for r in mail.recipients) == sorted(addresses)
    # The claim that died counts as an attempt.
    assert set(Delivery.objects.values_list("status", "attempts", "lease_until")) == {
        (DeliveryStatus.SENT, 2, None)
    }
    assert tasks.queue_due_retries() == 0


def test_each_mail_is_recorded_sent_as_soon_as_the_smtp_server_accepts_it(
    api, site, mailbox, monkeypatch
):
    thread = do_open_thread(site, url=ARTICLE)
    confirmed_subscribers(site, thread, [f"reader{n}@example.com" for n in range(4)])
    comment_id = fanned_out(api, site, "One at a time.")
    send_one = tasks._send_one
    sent_before_each: list[int] = []

    def send_one_and_count(connection, delivery, merged):
        sent_before_each.append(
            Delivery.objects.filter(comment_id=comment_id, status=DeliveryStatus.SENT).count()
        )
        send_one(connection, delivery, merged)

    monkeypatch.setattr(tasks, "_send_one", send_one_and_count)
    run_worker()
    assert sent_before_each == [0, 1, 2, 3]
    assert len(mailbox) == 4


def test_a_killed_batch_sends_only_what_it_had_not_recorded_sent(api, site, mailbox):
    thread = do_open_thread(site, url=ARTICLE)
    addresses = [f"reader{n}@example.com" for n in range(4)]
    confirmed_subscribers(site, thread, addresses)
    comment_id = fanned_out(api, site, "Half of it went out.")
    claimed = killed_while_sending(comment_id)
    actions.do_mark_sent(claimed[:2])  # the worker died after the SMTP server took two

    lease_runs_out()
    tasks.queue_due_retries()
    run_worker()
    received = sorted(r for mail in mailbox.mails for r in mail.recipients)
    assert received == sorted(delivery.subscriber.email for delivery in claimed[2:])


def test_a_claim_taken_over_is_not_renewed_by_its_old_holder(api, site, mailbox):
    subscribe_confirmed(api, mailbox, site, READER)
    comment_id = fanned_out(api, site, "Two workers, one claim.")
    first = killed_while_sending(comment_id)
    # Renewed while the claim lasts: the lease moves on.
    renewed = actions.do_renew_lease(first)
    assert [delivery.pk for delivery in renewed] == [first[0].pk]
    assert Delivery.objects.get().lease_until == renewed[0].lease_until

    lease_runs_out()
    second = killed_while_sending(comment_id)  # a second worker takes it over
    assert [delivery.pk for delivery in second] == [first[0].pk]
    assert actions.do_renew_lease(first) == []  # the first worker, slow but alive, lets go
    assert actions.do_renew_lease(second) != []


def test_mail_whose_worker_died_at_its_last_attempt_is_given_up(api, site, mailbox):
    subscribe_confirmed(api, mailbox, site, READER)
    mailbox.clear()
    comment_id = fanned_out(api, site, "A message that kills the worker.")
    Delivery.objects.update(attempts=actions.MAX_ATTEMPTS - 1)
    killed_while_sending(comment_id)
    assert Delivery.objects.get().attempts == actions.MAX_ATTEMPTS

    lease_runs_out()
    tasks.queue_due_retries()
    run_worker()
    assert len(mailbox) == 0
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.last_error == actions.WORKER_STOPPED


def test_mail_sent_again_carries_the_same_message_id(api, site, mailbox):
    """The one copy a killed worker can send twice (accepted by the SMTP server, killed before
    the database recorded it) is the same message to a mail client: same Message-ID."""
    subscribe_confirmed(api, mailbox, site, READER)
    subscribe_confirmed(api, mailbox, site, "other@example.com")
    mailbox.clear()
    comment_id = fanned_out(api, site, "Said twice, shown once.")
    run_worker()
    first = {mail.recipients[0]: str(mail.message["Message-ID"]) for mail in mailbox.mails}
    assert len(set(first.values())) == 2

    # As if the worker had died before recording the mail sent.
    Delivery.objects.filter(comment_id=comment_id).update(
        status=DeliveryStatus.SENDING, lease_until=timezone.now() - timedelta(seconds=1)
    )
    mailbox.clear()
    tasks.queue_due_retries()
    run_worker()
    again = {mail.recipients[0]: str(mail.message["Message-ID"]) for mail in mailbox.mails}
    assert again == first


def test_a_digest_whose_worker_was_killed_is_sent_once_its_claim_runs_out(api, site, mailbox):
    subscribe_confirmed(api, mailbox, site, READER, frequency="hourly")
    mailbox.clear()
    post(api, site, "The first comment.")
    post(api, site, "The second comment.")
    run_worker()
    time_passes(timedelta(minutes=61))
    [subscriber_id] = actions.due_digest_subscribers()
    digest = actions.claim_digest(subscriber_id)  # and the worker dies
    assert len(digest.deliveries) == 2
    assert actions.due_digest_subscribers() == []  # not due while the claim lasts

    lease_runs_out()
    run_worker()
    [mail] = mailbox.to(READER)
    assert mail.subject == f"2 new comments on {site.name}"
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}
    run_worker()
    assert len(mailbox) == 1
