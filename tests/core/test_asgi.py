"""The application `townhall serve` runs: fast path, then Django through the WSGI bridge."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.testing import ApplicationCommunicator
from django.db import connections

from townhall.config.asgi import application


@pytest.fixture(autouse=True)
def _no_connections_left_in_pool_threads(monkeypatch):
    """Django runs behind a thread pool here; a connection kept open in a pool thread would stop
    the test database from being dropped (PostgreSQL), so each request closes its own."""
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)


def asgi_get(path: str, query: bytes = b"") -> tuple[int, dict[bytes, bytes], bytes]:
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "scheme": "http",
        "http_version": "1.1",
        "headers": [(b"host", b"127.0.0.1")],
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
    }

    async def run():
        communicator = ApplicationCommunicator(application, scope)
        await communicator.send_input({"type": "http.request", "body": b""})
        start = await communicator.receive_output(5)
        body = b""
        while True:
            message = await communicator.receive_output(5)
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        return start["status"], dict(start["headers"]), body

    return asyncio.run(run())


@pytest.mark.django_db(transaction=True)
def test_django_answers_behind_the_fast_path():
    status, headers, body = asgi_get("/healthz")
    assert status == 200 and b'"ok"' in body
    assert headers[b"x-content-type-options"] == b"nosniff"


@pytest.mark.django_db(transaction=True)
def test_api_errors_come_through_the_bridge_as_json():
    status, headers, body = asgi_get("/api/v1/threads", b"site=nope&url=https://a.example/")
    assert status == 404
    assert headers[b"content-type"].startswith(b"application/json")
    assert b"unknown_site" in body


@pytest.mark.django_db(transaction=True)
def test_posting_works_when_the_server_gives_receive_as_a_plain_awaitable(site):
    """Granian's receive returns an awaitable that is not a coroutine (a2wsgi needs one)."""
    body = b'{"site": "news", "url": "https://news.example/a/", "body": "Through the bridge"}'
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/comments",
        "raw_path": b"/api/v1/comments",
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
    }

    async def run():
        loop = asyncio.get_running_loop()
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        sent: list[dict] = []

        def receive():
            future = loop.create_future()
            if messages:
                future.set_result(messages.pop())
            return future  # awaitable, not a coroutine; never resolves after the body

        async def send(message):
            sent.append(message)

        await application(scope, receive, send)
        return sent

    sent = asyncio.run(run())
    assert sent[0]["status"] == 201
    assert b"Through the bridge" in b"".join(m.get("body", b"") for m in sent[1:])
