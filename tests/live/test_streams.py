"""Live event streams from a real `townhall serve` (one process, SQLite, the embedded default).

Each event kind, the order of events, resumption by `Last-Event-ID`, CORS, heartbeats, and the
errors of the endpoint. Readers are plain HTTP clients reading `text/event-stream`.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

TOWNHALL = str(Path(sys.executable).with_name("townhall"))
ORIGIN = "https://news.example"
ARTICLE = f"{ORIGIN}/2016/07/live/"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    port: int
    var_dir: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 (127.0.0.1)
            self.base + path, data=data, method=method, headers=headers
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            raw = response.read()
        return json.loads(raw) if raw else None

    def post(self, body: str, **fields: Any) -> dict:
        token = fields.pop("token", None)
        payload = {"site": "news", "url": ARTICLE, "body": body, **fields}
        return self.request("POST", "/api/v1/comments", payload, token=token)

    def thread(self) -> dict:
        query = urllib.parse.urlencode({"site": "news", "url": ARTICLE})
        return self.request("GET", f"/api/v1/threads?{query}")


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    var_dir = tmp_path_factory.mktemp("live")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOWNHALL_")}
    env.update(
        TOWNHALL_VAR_DIR=str(var_dir),
        TOWNHALL_DATABASE_URL=f"sqlite:///{var_dir / 'db.sqlite3'}",
        TOWNHALL_SECRET_KEY="test",
        TOWNHALL_RATELIMIT="0",
        TOWNHALL_LIVE_HEARTBEAT_SECONDS="1",
        TOWNHALL_MODEL_DIR=os.environ.get("TOWNHALL_MODEL_DIR", str(var_dir / "models")),
    )
    env.pop("DJANGO_SETTINGS_MODULE", None)
    for args in (
        ["migrate", "--noinput"],
        ["createsite", "news", "--name", "News", "--origin", ORIGIN],
    ):
        subprocess.run([TOWNHALL, *args], env=env, check=True, capture_output=True, timeout=120)  # noqa: S603
    port = free_port()
    log = (var_dir / "serve.log").open("wb")
    process = subprocess.Popen(  # noqa: S603
        [TOWNHALL, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    server = Server(port=port, var_dir=var_dir)
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(server.base + "/healthz", timeout=1):  # noqa: S310
                break
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError((var_dir / "serve.log").read_text()) from None
            time.sleep(0.05)
    server.post("The first comment creates the thread.")
    yield server
    process.terminate()
    process.wait(timeout=10)
    log.close()


class Stream:
    """One reader's event stream: events as (id, event, data), and comment lines."""

    def __init__(
        self,
        server: Server,
        thread_id: int,
        *,
        last_event_id: int | None = None,
        query: str = "",
        origin: str | None = None,
    ) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        headers = {"Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        if origin:
            headers["Origin"] = origin
        self.connection.request(
            "GET", f"/api/v1/threads/{thread_id}/events{query}", headers=headers
        )
        self.response = self.connection.getresponse()
        self.comments: list[str] = []

    def next(self, timeout: float = 5.0) -> tuple[int | None, str, dict]:
        """The next event (comment lines are kept in ``self.comments``)."""
        self.connection.sock.settimeout(timeout)
        fields: dict[str, str] = {}
        while True:
            line = self.response.readline().decode()
            if line == "":
                raise EOFError("the stream ended")
            line = line.rstrip("\n")
            if line.startswith(":"):
                self.comments.append(line)
                continue
            if line == "":
                if "data" in fields:
                    event_id = fields.get("id")
                    return (
                        int(event_id) if event_id else None,
                        fields.get("event", "message"),
                        json.loads(fields["data"]),
                    )
                fields.clear()
                continue
            name, _, value = line.partition(": ")
            fields[name] = value

    def until(self, kind: str, predicate=lambda data: True, timeout: float = 5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            event = self.next(timeout=max(0.1, deadline - time.monotonic()))
            if event[1] == kind and predicate(event[2]):
                return event
        raise TimeoutError(f"no {kind} event")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.connection.close()


@pytest.fixture
def thread(server) -> dict:
    return server.thread()["thread"]


@pytest.fixture
def stream(server, thread) -> Iterator[Stream]:
    opened = Stream(server, thread["id"], query=f"?last_event_id={thread['live_event_id']}")
    yield opened
    opened.close()


def test_a_new_comment_reaches_an_open_stream(server, thread, stream):
    assert stream.response.status == 200
    assert stream.response.getheader("Content-Type") == "text/event-stream; charset=utf-8"
    assert stream.response.getheader("Cache-Control") == "no-store"
    posted = server.post("Hello, live readers.", author_name="Ada")["comment"]
    event_id, _, data = stream.until("comment", lambda d: d["comment"]["id"] == posted["id"])
    assert event_id > thread["live_event_id"]
    assert data["comment"]["html"] == "<p>Hello, live readers.</p>"
    assert data["comment"]["author_name"] == "Ada"
    assert data["comment_count"] == thread["comment_count"] + 1


def test_votes_edits_and_deletions_follow(server, stream):
    posted = server.post("Soon changed.")
    comment_id, token = posted["comment"]["id"], posted["edit_token"]
    stream.until("comment", lambda d: d["comment"]["id"] == comment_id)
    server.request("POST", f"/api/v1/comments/{comment_id}/vote", {"value": 1}, token=token)
    _, _, vote = stream.until("vote", lambda d: d["id"] == comment_id)
    assert vote == {"id": comment_id, "upvotes": 1, "downvotes": 0, "score": 1}
    server.request("PATCH", f"/api/v1/comments/{comment_id}", {"body": "Changed."}, token=token)
    _, _, edit = stream.until("edit", lambda d: d["comment"]["id"] == comment_id)
    assert edit["comment"]["html"] == "<p>Changed.</p>" and edit["comment"]["edited"]
    server.request("DELETE", f"/api/v1/comments/{comment_id}", token=token)
    _, _, removed = stream.until("remove", lambda d: d["id"] == comment_id)
    assert removed["status"] == "deleted"


def test_events_come_in_the_order_of_their_changes(server, stream):
    ids = [server.post(f"In order {n}.")["comment"]["id"] for n in range(5)]
    seen = [stream.until("comment")[2]["comment"]["id"] for _ in ids]
    assert seen == ids


def test_a_stream_resumed_by_last_event_id_misses_nothing(server, thread, stream):
    first = server.post("Before the break.")["comment"]["id"]
    last_id, _, _ = stream.until("comment", lambda d: d["comment"]["id"] == first)
    stream.close()
    during = [server.post(f"While away {n}.")["comment"]["id"] for n in range(3)]
    resumed = Stream(server, thread["id"], last_event_id=last_id)
    try:
        got = [resumed.until("comment")[2]["comment"]["id"] for _ in during]
        assert got == during
    finally:
        resumed.close()


def test_a_stream_from_the_pages_event_misses_what_came_after_the_page(server):
    page = server.thread()["thread"]
    after = server.post("Posted after the page was read.")["comment"]["id"]
    late = Stream(server, page["id"], query=f"?last_event_id={page['live_event_id']}")
    try:
        late.until("comment", lambda d: d["comment"]["id"] == after)
    finally:
        late.close()


def test_a_page_built_before_any_event_gets_every_event_since(server):
    # A thread whose page said live_event_id 0 (no event kept then): ?last_event_id=0 means
    # "everything kept", where no Last-Event-ID at all means "from now on".
    fresh = server.post("A new article's first comment.", url=f"{ORIGIN}/2016/07/fresh/")
    query = urllib.parse.urlencode({"site": "news", "url": f"{ORIGIN}/2016/07/fresh/"})
    thread_id = server.request("GET", f"/api/v1/threads?{query}")["thread"]["id"]
    from_zero = Stream(server, thread_id, query="?last_event_id=0")
    try:
        _, _, data = from_zero.until("comment")
        assert data["comment"]["id"] == fresh["comment"]["id"]
    finally:
        from_zero.close()


def test_the_stream_opens_with_an_id_to_resume_from(server, thread):
    now = Stream(server, thread["id"])
    try:
        now.connection.sock.settimeout(4)
        lines = [now.response.readline().decode().rstrip("\n") for _ in range(2)]
        assert lines == ["retry: 2000", f"id: {server.thread()['thread']['live_event_id']}"]
    finally:
        now.close()


def test_an_event_no_longer_kept_asks_for_a_reload(server, thread):
    gone = Stream(server, thread["id"], last_event_id=987_654_321)
    try:
        assert gone.next()[1] == "reset"
    finally:
        gone.close()


def test_heartbeats_keep_an_idle_stream_open(stream):
    # TOWNHALL_LIVE_HEARTBEAT_SECONDS=1 for this server: a comment line comes within a second or
    # two of silence.
    stream.connection.sock.settimeout(4)
    lines = [stream.response.readline().decode().rstrip("\n") for _ in range(4)]
    assert lines[0] == "retry: 2000" and lines[1].startswith("id: ") and lines[2] == ""
    assert lines[3] == ": keep-alive"


def test_cors_for_the_sites_origin_only(server, thread):
    allowed = Stream(server, thread["id"], origin=ORIGIN)
    other = Stream(server, thread["id"], origin="https://elsewhere.example")
    try:
        assert allowed.response.getheader("Access-Control-Allow-Origin") == ORIGIN
        assert other.response.getheader("Access-Control-Allow-Origin") is None
    finally:
        allowed.close()
        other.close()


def test_an_unknown_thread_is_a_json_404(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("GET", "/api/v1/threads/999999/events")
    response = connection.getresponse()
    assert response.status == 404
    assert json.loads(response.read())["error"]["code"] == "thread_not_found"
    connection.close()


@pytest.mark.django_db
def test_the_openapi_document_describes_the_stream(client):
    document = client.get("/api/openapi.json").json()
    operation = document["paths"]["/api/v1/threads/{thread_id}/events"]["get"]
    assert set(operation["responses"]["200"]["content"]) == {"text/event-stream"}
    assert {p["name"] for p in operation["parameters"]} == {"thread_id", "last_event_id"}


@pytest.mark.django_db
def test_without_the_asgi_layer_django_says_where_streams_are_served(client):
    response = client.get("/api/v1/threads/1/events")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "live_unavailable"
