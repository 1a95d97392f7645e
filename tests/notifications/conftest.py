"""Notifications end to end: the HTTP API, then `townhall worker --batch`, then a real SMTP server.

The worker runs django-tasks' database worker, which checks its database connection between
tasks; inside a test transaction that check would drop the test's own transaction (on
PostgreSQL), so every test here commits for real (``transaction=True``), as production does.
"""

from __future__ import annotations

import email
import email.policy
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from html import unescape
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from django.core.management import call_command
from django.db.models import F
from django.test import Client

from tests.conftest import ARTICLE, ORIGIN
from townhall.notifications.actions import do_confirm_subscriber, do_subscribe
from townhall.notifications.models import Delivery, Subscriber
from townhall.sites.models import Site

PUBLIC_URL = "https://comments.example"
OTHER_ARTICLE = f"{ORIGIN}/2016/07/another-story/"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Mail:
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None, "no text/plain part"
        return part.get_content()

    @property
    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        assert part is not None, "no text/html part"
        return part.get_content()

    @property
    def html_text(self) -> str:
        """What a reader sees of the HTML part: tags dropped, entities decoded."""
        return " ".join(unescape(re.sub(r"<[^>]+>", " ", self.html)).split())

    def link(self, kind: str) -> str:
        """The path of the first /notifications/<kind>/ link in the text part."""
        match = re.search(rf"{re.escape(PUBLIC_URL)}(/notifications/{kind}/[^/\s]+/)", self.text)
        assert match, f"no {kind} link in:\n{self.text}"
        return match.group(1)


class Mailbox:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mails: list[Mail] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self._mails.append(Mail(list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    @property
    def mails(self) -> list[Mail]:
        with self._lock:
            return list(self._mails)

    def to(self, address: str) -> list[Mail]:
        return [mail for mail in self.mails if address in mail.recipients]

    def clear(self) -> None:
        with self._lock:
            self._mails.clear()

    def __len__(self) -> int:
        return len(self.mails)


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[Controller, Mailbox]]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, mailbox
    finally:
        controller.stop()


@pytest.fixture
def mailbox(smtp_server, settings) -> Mailbox:
    """The SMTP server every test here sends to, emptied; Django's SMTP backend pointed at it."""
    controller, box = smtp_server
    box.clear()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    settings.PUBLIC_URL = PUBLIC_URL
    return box


def run_worker() -> None:
    """`townhall worker --batch`: every task that is due, then exit."""
    call_command("worker", batch=True, verbosity=0)


def subscribe(api, site: Site, address: str, *, url: str = ARTICLE, **fields: Any):
    body = {"site": site.slug, "url": url, "email": address, **fields}
    remote_addr = body.pop("remote_addr", "127.0.0.1")
    return api.post("/api/v1/subscriptions", body, remote_addr=remote_addr)


def post(api, site: Site, body: str, *, url: str = ARTICLE, **fields: Any) -> dict:
    """Posts a comment through the API; returns the posted comment's JSON."""
    fields.setdefault("author_name", "Someone Else")
    response = api.comment(site, body, url=url, **fields)
    assert response.status_code in (201, 202), response.content
    return response.json()["comment"]


def csrf_token(page_html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page_html)
    assert match, f"no CSRF token on the page:\n{page_html}"
    return match.group(1)


def confirm_by_link(mailbox: Mailbox, address: str) -> None:
    """Follows the confirmation link mailed to ``address`` as a browser would: GET, then the
    page's button (a POST with the page's CSRF token)."""
    confirmations = [mail for mail in mailbox.to(address) if "Confirm" in mail.subject]
    assert confirmations, f"no confirmation mailed to {address}"
    path = confirmations[-1].link("confirm")
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(path)
    assert page.status_code == 200
    response = browser.post(path, {"csrfmiddlewaretoken": csrf_token(page.content.decode())})
    assert response.status_code == 200
    assert "Address confirmed" in response.content.decode()


def subscribe_confirmed(api, mailbox: Mailbox, site: Site, address: str, **fields: Any) -> None:
    """A reader subscribes through the API and confirms by the mailed link."""
    assert subscribe(api, site, address, **fields).status_code == 202
    run_worker()
    confirm_by_link(mailbox, address)


def confirmed_subscribers(site: Site, thread, addresses: list[str], kind: str = "thread") -> None:
    """Many confirmed subscribers at once, by the same actions the API and the link use."""
    for address in addresses:
        subscriber = do_subscribe(site, email=address, thread=thread, kind=kind).subscriber
        do_confirm_subscriber(subscriber)


def time_passes(delta: timedelta) -> None:
    """Moves every notification timestamp back by ``delta``, as if that much time had passed."""
    Delivery.objects.update(created=F("created") - delta)
    Delivery.objects.filter(next_attempt_at__isnull=False).update(
        next_attempt_at=F("next_attempt_at") - delta
    )
    Subscriber.objects.filter(last_digest_at__isnull=False).update(
        last_digest_at=F("last_digest_at") - delta
    )
    Subscriber.objects.filter(confirmed_at__isnull=False).update(
        confirmed_at=F("confirmed_at") - delta
    )


def path_of(url: str) -> str:
    assert url.startswith(PUBLIC_URL + "/"), url
    return urlsplit(url).path
