"""Fault tests: clients that go away in the middle of a request, against a real `townhall serve`.

Raw sockets, so the test controls exactly which bytes reach the server before the connection
is closed (politely with FIN, or abortively with RST). After each fault the server must still
answer, nothing may be half-written, and its log must hold no traceback.

The server is the browser tests' (tests/browser/conftest.py): Granian over a fresh copy of a
migrated SQLite database with the demo site.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import struct
import time
import uuid
from collections.abc import Iterator
from contextlib import closing

import pytest
from django.db import connection

from tests.browser import conftest as browser_servers
from tests.browser.support import Server
from townhall.discussions.models import Comment, Thread

# The browser tests' fixtures: a template database once per session, a server per test.
template_db = browser_servers.template_db
server = browser_servers.server

# The server runs on SQLite whatever the suite's database (the browser tests' helpers set it).
pytestmark = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="the server under test runs on SQLite: the SQLite pass"
)

COMMENTS, THREADS = Comment._meta.db_table, Thread._meta.db_table
SETTLE_SECONDS = 3.0


def _connect(server: Server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=5)


def _abort(sock: socket.socket) -> None:
    """Closes with a TCP reset rather than a FIN, as a crashed client or a dropped link does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _post_bytes(server: Server, body: str) -> bytes:
    payload = json.dumps({"site": "demo", "url": server.article_url, "body": body}).encode()
    head = (
        "POST /api/v1/comments HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\n"
        "Content-Type: application/json\r\n"
        "Accept: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n"
        "\r\n"
    )
    return head.encode() + payload


def _count(server: Server, body: str) -> int:
    uri = f"file:{server.var_dir / 'db.sqlite3'}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as db:
        query = f"SELECT COUNT(*) FROM {COMMENTS} WHERE body = ?"  # noqa: S608 (a table name)
        (count,) = db.execute(query, [body]).fetchone()
    return count


def _threads_consistent(server: Server) -> list[tuple]:
    """Threads whose visible-comment count disagrees with their visible rows (none expected)."""
    uri = f"file:{server.var_dir / 'db.sqlite3'}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as db:
        return db.execute(
            f"SELECT t.id, t.comment_count, COUNT(c.id) FROM {THREADS} t"  # noqa: S608
            f" LEFT JOIN {COMMENTS} c ON c.thread_id = t.id AND c.status = 'visible'"
            " GROUP BY t.id HAVING t.comment_count != COUNT(c.id)"
        ).fetchall()


def _settled_count(server: Server, body: str) -> int:
    """The rows with ``body`` once the server has had time to finish what it received."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline and _count(server, body) == 0:
        time.sleep(0.05)
    time.sleep(0.2)  # a second insert, if there were one, would come right after the first
    return _count(server, body)


def _assert_healthy(server: Server) -> None:
    """The server answers, takes a comment, and has logged no traceback."""
    body = f"Still here {uuid.uuid4()}"
    assert server.post_comment(body)["comment"]["id"]
    assert _count(server, body) == 1
    assert _threads_consistent(server) == []
    log = server.log()
    assert "Traceback" not in log, log[-4000:]
    assert " ERROR " not in log and "CRITICAL" not in log, log[-4000:]


@pytest.fixture
def thread_id(server: Server) -> Iterator[int]:
    server.post_comment(f"Opens the thread {uuid.uuid4()}")
    yield server.thread()["thread"]["id"]


@pytest.mark.parametrize("close", [socket.socket.close, _abort], ids=["fin", "reset"])
def test_half_sent_body_writes_nothing(server: Server, close) -> None:
    bodies = [f"Half a comment {n} {uuid.uuid4()}" for n in range(5)]
    for body in bodies:
        request = _post_bytes(server, body)
        sock = _connect(server)
        sock.sendall(request[: len(request) - 20])  # Content-Length promises 20 more bytes
        time.sleep(0.05)  # let the server start on the request
        close(sock)
    time.sleep(0.5)
    assert [_count(server, body) for body in bodies] == [0] * len(bodies)
    _assert_healthy(server)


@pytest.mark.parametrize("close", [socket.socket.close, _abort], ids=["fin", "reset"])
def test_unread_answer_writes_the_comment_at_most_once(server: Server, close) -> None:
    bodies = [f"Sent whole, never read {n} {uuid.uuid4()}" for n in range(5)]
    for body in bodies:
        sock = _connect(server)
        sock.sendall(_post_bytes(server, body))
        close(sock)
    counts = [_settled_count(server, body) for body in bodies]
    assert all(count in (0, 1) for count in counts), counts
    _assert_healthy(server)


def test_dropped_event_streams_leave_the_server_serving(server: Server, thread_id: int) -> None:
    request = (
        f"GET /api/v1/threads/{thread_id}/events HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
    ).encode()
    for n in range(6):
        sock = _connect(server)
        sock.sendall(request)
        if n % 3 == 1:
            assert sock.recv(4096).startswith(b"HTTP/1.1 200"), "the stream did not open"
        elif n % 3 == 2:
            sock.sendall(request[:10])  # a second request half-sent on the streaming socket
        (socket.socket.close if n % 2 else _abort)(sock)
    # A stream opened now still hears of a new comment.
    sock = _connect(server)
    sock.settimeout(5)
    sock.sendall(request)
    received = sock.recv(4096)
    assert received.startswith(b"HTTP/1.1 200"), received
    body = f"Heard live {uuid.uuid4()}"
    server.post_comment(body)
    deadline = time.monotonic() + 5
    while body.encode() not in received and time.monotonic() < deadline:
        received += sock.recv(65536)
    sock.close()
    assert body.encode() in received
    _assert_healthy(server)
