"""Reader-support fixtures: campaigns made by the real actions, Stripe events signed the way
Stripe signs them, and a stand-in for Stripe's API on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import pytest

from townhall.sites.actions import do_set_stripe_keys
from townhall.sites.models import Site
from townhall.support.actions import do_create_campaign
from townhall.support.models import Campaign

WEBHOOK_SECRET = "whsec_test_secret"
SECRET_KEY = "sk_test_townhall"
_ids = itertools.count(1)


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header: ``t=<ts>,v1=<HMAC-SHA256 of "<ts>.<payload>">``."""
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def event(kind: str, obj: dict[str, Any], event_id: str | None = None) -> bytes:
    body = {
        "id": event_id or f"evt_{next(_ids)}",
        "object": "event",
        "type": kind,
        "api_version": "2025-01-01",
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": obj},
    }
    return json.dumps(body).encode()


def session(
    campaign: Campaign,
    *,
    amount: int = 2500,
    paid: bool = True,
    session_id: str | None = None,
    intent: str | None = None,
    commenter_id: int | None = None,
    show_badge: bool = False,
    currency: str = "usd",
) -> dict[str, Any]:
    """A Checkout Session as ``checkout.session.completed`` carries it."""
    number = next(_ids)
    return {
        "id": session_id or f"cs_test_{number}",
        "object": "checkout.session",
        "amount_total": amount,
        "currency": currency,
        "payment_status": "paid" if paid else "unpaid",
        "payment_intent": intent or f"pi_{number}",
        "customer_details": {"email": "reader@example.com", "name": "A Reader"},
        "metadata": {
            "campaign": str(campaign.pk),
            "commenter": str(commenter_id) if commenter_id else "",
            "show_badge": "1" if show_badge else "0",
        },
    }


def charge_refunded(intent: str, amount: int, refunded: int) -> dict[str, Any]:
    return {
        "id": f"ch_{next(_ids)}",
        "object": "charge",
        "amount": amount,
        "amount_refunded": refunded,
        "refunded": refunded == amount,
        "payment_intent": intent,
        "currency": "usd",
    }


def deliver(api, site: Site, payload: bytes, signature: str | None = "sign"):
    headers = {}
    if signature == "sign":
        signature = sign(payload)
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return api.request("POST", f"/api/v1/stripe/webhook/{site.slug}", raw=payload, headers=headers)


@pytest.fixture
def stripe_site(make_site) -> Site:
    site = make_site(slug="paper")
    return do_set_stripe_keys(site, secret_key=SECRET_KEY, webhook_secret=WEBHOOK_SECRET)


@pytest.fixture
def make_campaign():
    counter = itertools.count(1)

    def make(site: Site, **options: Any) -> Campaign:
        options.setdefault("slug", f"drive-{next(counter)}")
        options.setdefault("title", "Support the newsroom")
        options.setdefault("currency", "USD")
        options.setdefault("goal", 500_000)
        return do_create_campaign(site, **options)

    return make


@pytest.fixture
def campaign(stripe_site, make_campaign) -> Campaign:
    return make_campaign(stripe_site, slug="winter", checkout="stripe", support_prompt=True)


class FakeStripe:
    """Stripe's API on 127.0.0.1: records each request (path, form, headers) and answers with
    a Checkout Session, or with the status and body the test sets."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self.answer: dict[str, Any] | None = None
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
                outer.requests.append(
                    {"path": self.path, "form": form, "headers": dict(self.headers.items())}
                )
                body = outer.answer or {
                    "id": "cs_test_fake",
                    "object": "checkout.session",
                    "url": "https://checkout.stripe.com/c/pay/cs_test_fake",
                    "payment_status": "unpaid",
                }
                data = json.dumps(body).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", "req_fake")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_stripe(monkeypatch):
    fake = FakeStripe()
    monkeypatch.setenv("TOWNHALL_STRIPE_API_BASE", fake.url)
    yield fake
    fake.close()
