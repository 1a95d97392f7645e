"""Two deliveries of one Stripe event at the same moment count it once (PostgreSQL run)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from django.test import Client

from tests.conftest import ApiClient
from tests.support.conftest import deliver, event, session
from townhall.support import webhooks
from townhall.support.models import Contribution, StripeEvent
from townhall.support.queries import settled_sum

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="concurrent transactions run on PostgreSQL"
    ),
]

DELIVERIES = 2
ROUNDS = 10


def deliver_together(site, payloads: list[bytes]) -> list[tuple[int, str]]:
    """Each payload from its own thread and connection, released at the same moment."""
    barrier = threading.Barrier(len(payloads))
    results: list[tuple[int, str]] = []
    errors: list[BaseException] = []

    def deliverer(payload: bytes) -> None:
        try:
            api = ApiClient(Client())
            barrier.wait()
            response = deliver(api, site, payload)
            results.append((response.status_code, response.json().get("outcome", "")))
        except BaseException as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliverer, args=(p,)) for p in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results


@pytest.mark.parametrize("same_event", [True, False])
def test_racing_deliveries_count_once(stripe_site, campaign, same_event):
    for round_ in range(ROUNDS):
        one = session(campaign, amount=1000 + round_)
        payloads = [
            event("checkout.session.completed", one, event_id=f"evt_race_{round_}")
            if same_event
            else event("checkout.session.completed", one)
            for _ in range(DELIVERIES)
        ]
        results = deliver_together(stripe_site, payloads)
        assert [status for status, _ in results] == [200] * DELIVERIES
        outcomes = sorted(outcome for _, outcome in results)
        if same_event:
            assert outcomes == ["duplicate", "settled"]
        else:
            assert outcomes == ["settled", "settled"]  # the second found the contribution there

    campaign.refresh_from_db()
    expected = sum(1000 + r for r in range(ROUNDS))
    assert campaign.settled_total == settled_sum(campaign) == expected
    assert Contribution.objects.count() == ROUNDS
    assert StripeEvent.objects.count() == ROUNDS * (1 if same_event else DELIVERIES)


def test_the_second_delivery_waits_on_the_first_and_changes_nothing(
    stripe_site, campaign, monkeypatch
):
    """Deterministic: the first delivery holds its transaction open after recording the event;
    the second passes the "seen before?" check (nothing committed yet), blocks on the unique
    index, and fails once the first commits."""
    payload = event("checkout.session.completed", session(campaign, amount=4321))
    recorded, release = threading.Event(), threading.Event()
    apply = webhooks._apply

    def slow_apply(*args, **kwargs):
        outcome = apply(*args, **kwargs)
        if not recorded.is_set():
            recorded.set()
            release.wait(5)
        return outcome

    monkeypatch.setattr(webhooks, "_apply", slow_apply)
    results: dict[str, str] = {}

    def first() -> None:
        try:
            results["first"] = deliver(ApiClient(Client()), stripe_site, payload).json()["outcome"]
        finally:
            connection.close()

    def second() -> None:
        try:
            recorded.wait(5)
            results["second"] = deliver(ApiClient(Client()), stripe_site, payload).json()["outcome"]
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    recorded.wait(5)
    time.sleep(0.5)  # the second is now waiting on the first's row
    release.set()
    for thread in threads:
        thread.join()
    assert results == {"first": "settled", "second": "duplicate"}
    campaign.refresh_from_db()
    assert campaign.settled_total == settled_sum(campaign) == 4321
    assert StripeEvent.objects.count() == 1 and Contribution.objects.count() == 1
