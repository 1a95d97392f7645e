"""Scale-out: two `townhall serve` processes on one PostgreSQL database and one Redis.

What a newsroom runs behind its proxy: every reader's requests may land on any process. These
tests start real servers (Granian, the production path) and talk HTTP to them:

- a comment posted to process A reaches an event stream held by process B;
- a vote changed on A is in the thread B serves at once (B's cached page is not served stale);
- a stream of B closed and resumed with ``Last-Event-ID`` misses nothing posted on A or B;
- with a Redis of the test's own, stopped mid-run: both processes go on answering reads and
  posts, their logs say live updates paused; Redis started again, the logs say resumed, events
  flow between the processes again, and streams that stayed open get what was written meanwhile,
  each once and in order (from the database: Redis dropped it).

They run in the PostgreSQL + Redis pass of ``scripts/test.sh`` (``TOWNHALL_DATABASE_URL`` and
``TOWNHALL_REDIS_URL`` set) and are skipped in the SQLite pass. The module makes a database of
its own on that PostgreSQL server (dropped afterwards), and its servers use a key prefix of their
own in that Redis, so nothing of the rest of the suite is read or flushed.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

import pytest

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

TOWNHALL = str(Path(sys.executable).with_name("townhall"))
DATABASE_URL = os.environ.get("TOWNHALL_DATABASE_URL", "")
REDIS_URL = os.environ.get("TOWNHALL_REDIS_URL", "")
IN_CI = os.environ.get("CI", "").lower() == "true"
ORIGIN = "https://news.example"
SITE = "news"
STARTUP_SECONDS = 20.0
# The servers believe X-Forwarded-For from 127.0.0.1, as behind a reverse proxy: each post comes
# from a reader address of its own, so rate limits stay on (as in production) without one test
# client running into them.
_addresses = (str(ipaddress.ip_address("198.18.0.1") + n) for n in itertools.count())


def _unavailable(reason: str) -> NoReturn:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the PostgreSQL + Redis pass must run these)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _with_database(url: str, name: str) -> str:
    return urllib.parse.urlsplit(url)._replace(path=f"/{name}").geturl()


# ---- a PostgreSQL database and Redis for the module ---------------------------------------------


@pytest.fixture(scope="module")
def database_url(tmp_path_factory) -> Iterator[str]:
    """A fresh PostgreSQL database on the server of ``TOWNHALL_DATABASE_URL``, migrated, with the
    site ``news``; dropped at the end."""
    if not DATABASE_URL.startswith(("postgres://", "postgresql://")) or not REDIS_URL:
        pytest.skip("PostgreSQL and Redis only: the PostgreSQL + Redis pass of scripts/test.sh")
    import psycopg

    try:
        admin = psycopg.connect(DATABASE_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        _unavailable(f"PostgreSQL does not answer at {DATABASE_URL}: {error}")
    name = f"townhall_scale_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(DATABASE_URL, name)
    try:
        env = _server_env(url, REDIS_URL, name, tmp_path_factory.mktemp("scale-setup"))
        _run(["migrate", "--noinput"], env)
        _run(["createsite", SITE, "--name", "News", "--origin", ORIGIN], env)
        yield url
    finally:
        with psycopg.connect(DATABASE_URL, autocommit=True, connect_timeout=3) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """The suite's Redis (``TOWNHALL_REDIS_URL``); the servers keep to a prefix of their own."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        _unavailable(f"Redis does not answer at {REDIS_URL}: {error}")
    yield REDIS_URL


def _forget_keys(url: str, prefix: str) -> None:
    """Deletes this module's keys only (never FLUSHDB: other tests share the database)."""
    import redis

    with contextlib.suppress(redis.RedisError):
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        for key in client.scan_iter(match=f"{prefix}:*", count=500):
            client.delete(key)
        client.close()


class OwnRedis:
    """A `redis-server` of the test's own, on a free port, without persistence: stopped and
    started again on the same port, as an outage of the production Redis would look."""

    def __init__(self, directory: Path) -> None:
        self.port = _free_port()
        self.directory = directory
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None
        options = f"--port {self.port} --bind 127.0.0.1 --appendonly no --dir {self.directory}"
        log = (self.directory / "redis.log").open("ab")
        self.process = subprocess.Popen(  # noqa: S603 (the system's redis-server)
            [binary, *options.split(), "--save", ""],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 10
        while not self._answers():
            assert self.process.poll() is None, (self.directory / "redis.log").read_text()
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def _answers(self) -> bool:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            try:
                sock.connect(("127.0.0.1", self.port))
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
            except OSError:
                return False


# ---- the servers --------------------------------------------------------------------------------


def _server_env(database_url: str, redis_url: str, prefix: str, var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOWNHALL_")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(
        TOWNHALL_DATABASE_URL=database_url,
        TOWNHALL_REDIS_URL=redis_url,
        TOWNHALL_CACHE_PREFIX=prefix,
        TOWNHALL_VAR_DIR=str(var_dir),
        # One key for every process: a reader's edit token from one process works on another.
        TOWNHALL_SECRET_KEY="scale-out-test",
        TOWNHALL_TRUSTED_PROXIES="127.0.0.1/32",
        TOWNHALL_LIVE_HEARTBEAT_SECONDS="1",
        TOWNHALL_LOG_LEVEL="INFO",
    )
    if os.environ.get("TOWNHALL_MODEL_DIR"):  # scripts/test.sh: one compiled model for all
        env["TOWNHALL_MODEL_DIR"] = os.environ["TOWNHALL_MODEL_DIR"]
    return env


def _run(args: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(  # noqa: S603 (the project's own console script)
        [TOWNHALL, *args], env=env, capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        raise RuntimeError(f"townhall {' '.join(args)} failed:\n{result.stdout}{result.stderr}")


class Reply(NamedTuple):
    status: int
    headers: http.client.HTTPMessage
    body: Any


@dataclass
class Server:
    name: str
    port: int
    log_path: Path
    process: subprocess.Popen | None = None
    statuses: list[int] = field(default_factory=list)

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Reply:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            data = json.dumps(body).encode() if body is not None else None
            sent = {"Accept": "application/json", **(headers or {})}
            if data is not None:
                sent["Content-Type"] = "application/json"
            connection.request(method, path, body=data, headers=sent)
            response = connection.getresponse()
            raw = response.read()
        finally:
            connection.close()
        self.statuses.append(response.status)
        parsed = (
            json.loads(raw) if raw and "json" in response.getheader("Content-Type", "") else raw
        )
        return Reply(response.status, response.headers, parsed)

    def post(self, url: str, text: str, **fields: Any) -> dict:
        """Posts a comment as a reader of an address of its own; the comment must be visible."""
        reply = self.request(
            "POST",
            "/api/v1/comments",
            {"site": SITE, "url": url, "body": text, **fields},
            headers={"X-Forwarded-For": next(_addresses)},
        )
        assert reply.status == 201, (self.name, reply)
        return reply.body["comment"]

    def vote(self, comment_id: int, value: int, voter: str) -> dict:
        reply = self.request(
            "POST",
            f"/api/v1/comments/{comment_id}/vote",
            {"value": value},
            headers={"X-Forwarded-For": voter},
        )
        assert reply.status == 200, (self.name, reply)
        return reply.body

    def thread(self, url: str, etag: str | None = None) -> Reply:
        query = urllib.parse.urlencode({"site": SITE, "url": url})
        headers = {"If-None-Match": etag} if etag else None
        return self.request("GET", f"/api/v1/threads?{query}", headers=headers)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_log(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log():
            assert time.monotonic() < deadline, (
                f"{self.name}'s log never said {text!r}:\n{self.log()}"
            )
            time.sleep(0.05)


def _start(servers: list[Server], env: dict[str, str]) -> None:
    for server in servers:
        with server.log_path.open("wb") as log:
            server.process = subprocess.Popen(  # noqa: S603
                [TOWNHALL, "serve", "--host", "127.0.0.1", "--port", str(server.port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: Granian and its worker
            )
    deadline = time.monotonic() + STARTUP_SECONDS
    for server in servers:
        assert server.process is not None
        while True:
            if server.process.poll() is not None:
                raise RuntimeError(f"{server.name} exited:\n{server.log()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                if server.request("GET", "/healthz").status == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{server.name} did not answer /healthz:\n{server.log()}")
            time.sleep(0.05)
        server.statuses.clear()


def _stop(servers: list[Server]) -> None:
    for server in servers:
        if server.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=10)


@contextlib.contextmanager
def _two_servers(
    tmp: Path, database_url: str, redis_url: str, names: tuple[str, str]
) -> Iterator[tuple[Server, Server]]:
    prefix = f"townhall-scale-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True, exist_ok=True)
    env = _server_env(database_url, redis_url, prefix, tmp)
    servers = [Server(name, _free_port(), tmp / f"{name}.log") for name in names]
    try:
        _start(servers, env)
        yield servers[0], servers[1]
    finally:
        _stop(servers)
        _forget_keys(redis_url, prefix)
        for server in servers:
            if _errors(server.log()):
                print(f"---- {server.name} ({server.log_path}) ----\n{server.log()[-6000:]}")


@pytest.fixture(scope="module")
def pair(tmp_path_factory, database_url, redis_url) -> Iterator[tuple[Server, Server]]:
    """Processes A and B on the module's database and the suite's Redis."""
    with _two_servers(tmp_path_factory.mktemp("scale"), database_url, redis_url, ("A", "B")) as ab:
        yield ab


@pytest.fixture
def article(request) -> str:
    return f"{ORIGIN}/scale-out/{request.node.name}/"


# ---- reading event streams ----------------------------------------------------------------------


class Event(NamedTuple):
    id: int | None
    kind: str
    data: dict


class Stream:
    """A reader's `text/event-stream` on one server, read line by line with bounded waits."""

    def __init__(
        self,
        server: Server,
        thread_id: int,
        *,
        last_event_id: int | None = None,
        query: bool = False,
    ) -> None:
        self.server = server
        path = f"/api/v1/threads/{thread_id}/events"
        headers = {"Accept": "text/event-stream"}
        if last_event_id is not None and query:
            path += f"?last_event_id={last_event_id}"
        elif last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        self.connection.request("GET", path, headers=headers)
        self.response = self.connection.getresponse()
        assert self.response.status == 200, (server.name, self.response.status)
        assert self.response.getheader("Cache-Control") == "no-store"
        self.events: list[Event] = []
        # The server's first line: by then the stream is subscribed and knows where it starts.
        deadline = time.monotonic() + 5
        first = [self._line(deadline) for _ in range(3)]
        assert first[0] == "retry: 2000" and first[1].startswith("id: ") and first[2] == ""

    def _line(self, deadline: float) -> str:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"nothing more on {self.server.name}'s stream in time")
        assert self.connection.sock is not None
        self.connection.sock.settimeout(remaining)
        line = self.response.readline().decode()
        if line == "":
            raise EOFError(f"{self.server.name} closed the stream; got {self.events}")
        return line.rstrip("\n")

    def next_event(self, deadline: float) -> Event:
        fields: dict[str, str] = {}
        while True:
            line = self._line(deadline)
            if line.startswith(":"):
                continue  # a heartbeat
            if line:
                name, _, value = line.partition(": ")
                fields[name] = value
                continue
            if "data" not in fields:
                continue
            event = Event(
                int(fields["id"]) if fields.get("id") else None,
                fields.get("event", "message"),
                json.loads(fields["data"]),
            )
            assert event.kind != "reset", f"{self.server.name} reset the stream: {self.events}"
            self.events.append(event)
            return event

    def until(self, done: Callable[[list[Event]], bool], timeout: float = 8.0) -> list[Event]:
        deadline = time.monotonic() + timeout
        while not done(self.events):
            self.next_event(deadline)
        return self.events

    def comment_ids(self) -> list[int]:
        return [e.data["comment"]["id"] for e in self.events if e.kind == "comment"]

    def until_comments(self, ids: list[int], timeout: float = 8.0) -> list[Event]:
        return self.until(lambda _events: set(ids) <= set(self.comment_ids()), timeout)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.connection.close()


@pytest.fixture
def streams() -> Iterator[Callable[..., Stream]]:
    opened: list[Stream] = []

    def open_stream(*args: Any, **kwargs: Any) -> Stream:
        opened.append(Stream(*args, **kwargs))
        return opened[-1]

    yield open_stream
    for stream in opened:
        stream.close()


# ---- the tests ----------------------------------------------------------------------------------


def test_a_comment_posted_to_one_process_reaches_a_stream_on_the_other(pair, article, streams):
    a, b = pair
    first = a.post(article, "The first comment makes the thread.")
    thread = b.thread(article).body["thread"]
    # As a reader's EventSource first opens it: no Last-Event-ID, on a process that has no
    # stream yet (its Redis subscription starts with this one).
    fresh = streams(b, thread["id"])
    # As the widget opens it: from the event its page was built at.
    from_page = streams(b, thread["id"], last_event_id=thread["live_event_id"], query=True)
    posted = [a.post(article, f"Posted to A ({n}).")["id"] for n in range(3)]
    for stream in (fresh, from_page):
        stream.until_comments(posted)
        assert stream.comment_ids() == posted  # in order, and nothing from before it opened
        assert first["id"] not in stream.comment_ids()
    event = from_page.events[-1]
    assert event.id is not None and event.id > thread["live_event_id"]
    assert event.data["comment"]["html"] == "<p>Posted to A (2).</p>"
    assert event.data["comment_count"] == 4
    # And back: B's comments reach a stream held by A.
    on_a = streams(a, thread["id"], last_event_id=event.id)
    answer = b.post(article, "Posted to B.", parent_id=posted[0])["id"]
    on_a.until_comments([answer])
    fresh.until_comments([answer])
    assert {*a.statuses, *b.statuses} <= {200, 201}


def test_a_vote_on_one_process_is_in_the_next_read_from_the_other(pair, article):
    a, b = pair
    comment = a.post(article, "Vote on me.")
    voter = next(_addresses)
    expected = {"upvotes": 0, "downvotes": 0, "score": 0}
    for value, writer, reader in [(1, a, b), (-1, b, a), (0, a, b), (1, b, a), (-1, a, b)]:
        before = reader.thread(article)
        again = reader.thread(article, etag=before.headers["ETag"])  # held, answered from memory
        assert again.status == 304
        assert _counts(before.body, comment["id"]) == expected
        voted = writer.vote(comment["id"], value, voter)
        expected = {
            "upvotes": int(value == 1),
            "downvotes": int(value == -1),
            "score": value,
        }
        assert {k: voted[k] for k in expected} == expected
        # At once, on the other process, with the ETag of the page it served before the vote.
        after = reader.thread(article, etag=before.headers["ETag"])
        assert after.status == 200, f"{reader.name} answered 304 after a vote on {writer.name}"
        assert after.headers["ETag"] != before.headers["ETag"]
        assert _counts(after.body, comment["id"]) == expected
    assert {*a.statuses, *b.statuses} <= {200, 201, 304}


def _counts(page: dict, comment_id: int) -> dict:
    [shown] = [c for c in page["comments"] if c["id"] == comment_id]
    return {k: shown[k] for k in ("upvotes", "downvotes", "score")}


def test_a_stream_resumed_with_last_event_id_misses_nothing(pair, article, streams):
    a, b = pair
    a.post(article, "The thread starts.")
    thread = a.thread(article).body["thread"]
    on_b = streams(b, thread["id"], last_event_id=thread["live_event_id"])
    seen = a.post(article, "Seen before the break.")["id"]
    [last] = [e for e in on_b.until_comments([seen]) if e.kind == "comment"]
    on_b.close()
    # While B's reader is away: comments on both processes, a vote and a reply in between.
    during = [
        a.post(article, "Away 1, on A.")["id"],
        b.post(article, "Away 2, on B.")["id"],
        a.post(article, "Away 3, on A.", parent_id=seen)["id"],
    ]
    a.vote(during[1], 1, next(_addresses))
    during += [b.post(article, "Away 4, on B.")["id"], a.post(article, "Away 5, on A.")["id"]]
    resumed = streams(b, thread["id"], last_event_id=last.id)  # as EventSource reconnects
    resumed.until_comments(during)
    assert resumed.comment_ids() == during  # each once, in the order they were posted
    votes = [e.data for e in resumed.events if e.kind == "vote"]
    assert votes == [{"id": during[1], "upvotes": 1, "downvotes": 0, "score": 1}]
    ids = [e.id for e in resumed.events]
    assert ids == sorted(ids) and min(ids) > last.id
    # The same from the query string, on the other process.
    again = streams(a, thread["id"], last_event_id=last.id, query=True)
    again.until_comments(during)
    assert again.comment_ids() == during


@pytest.fixture
def own_redis(tmp_path) -> Iterator[OwnRedis]:
    if shutil.which("redis-server") is None:
        _unavailable("redis-server is not installed: the outage test starts and stops its own")
    redis = OwnRedis(tmp_path)
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


def test_a_redis_outage_pauses_live_updates_only(database_url, own_redis, tmp_path, article):
    servers = _two_servers(tmp_path / "servers", database_url, own_redis.url, ("C", "D"))
    with servers as (c, d), contextlib.ExitStack() as closing:
        first = c.post(article, "Before the outage.")
        thread = d.thread(article).body["thread"]
        on_c = Stream(c, thread["id"], last_event_id=thread["live_event_id"])
        on_d = Stream(d, thread["id"], last_event_id=thread["live_event_id"])
        closing.callback(on_c.close)
        closing.callback(on_d.close)
        warm = d.post(article, "Live before the outage.")["id"]
        on_c.until_comments([warm])
        on_d.until_comments([warm])
        # A thread with no event yet (a reader subscribed to it): its page's live_event_id is 0.
        quiet_article = f"{article}quiet/"
        subscribed = c.request(
            "POST",
            "/api/v1/subscriptions",
            {"site": SITE, "url": quiet_article, "email": "reader@example.com"},
            headers={"X-Forwarded-For": next(_addresses)},
        )
        assert subscribed.status == 202
        quiet = d.thread(quiet_article).body["thread"]
        assert quiet["live_event_id"] == 0
        on_quiet = Stream(d, quiet["id"], last_event_id=0, query=True)
        closing.callback(on_quiet.close)

        own_redis.stop()
        c.wait_for_log("Live updates paused", timeout=5)
        d.wait_for_log("Live updates paused", timeout=5)
        during = [
            c.post(article, "During the outage, 1, on C.")["id"],
            d.post(article, "During the outage, 2, on D.")["id"],
            c.post(article, "During the outage, 3, on C.", parent_id=first["id"])["id"],
        ]
        # Reads see every write at once: pages come from the database while Redis is away.
        for server in (c, d):
            page = server.thread(article)
            assert page.status == 200
            assert page.body["thread"]["comment_count"] == 5
            assert {x["id"] for x in page.body["comments"]} >= {during[0], during[1]}
            assert server.request("GET", "/healthz").status == 200
        # A process's own readers still hear of its comments while Redis is away.
        on_c.until_comments([during[0], during[2]])
        # Written on D after C's last write: C's readers can get these only from the database,
        # when C's subscription comes back.
        d.vote(during[0], 1, next(_addresses))
        during.append(d.post(article, "During the outage, 4, on D.")["id"])
        assert _counts(c.thread(article).body, during[0])["upvotes"] == 1

        own_redis.start()  # empty, on the same port
        c.wait_for_log("Live updates resumed", timeout=10)
        d.wait_for_log("Live updates resumed", timeout=10)
        # The streams that stayed open get everything written during the outage, each once.
        for stream in (on_c, on_d):
            stream.until_comments(during)
            assert stream.comment_ids() == [warm, *during]
            [vote] = [e.data for e in stream.events if e.kind == "vote"]
            assert vote == {"id": during[0], "upvotes": 1, "downvotes": 0, "score": 1}
        # And events travel between the processes again, to old streams and new ones.
        fresh = Stream(d, thread["id"])
        closing.callback(fresh.close)
        after = [
            c.post(article, "After the outage, on C.")["id"],
            d.post(article, "After the outage, on D.")["id"],
        ]
        for stream in (on_c, on_d):
            stream.until_comments(after)
        fresh.until_comments(after)
        assert fresh.comment_ids() == after
        first_quiet = c.post(quiet_article, "The first comment of the quiet thread.")["id"]
        on_quiet.until_comments([first_quiet])
        assert on_quiet.comment_ids() == [first_quiet]

        statuses = [*c.statuses, *d.statuses]
        assert all(200 <= status < 300 for status in statuses), statuses
        for server in (c, d):
            assert not _errors(server.log()), server.log()


def _errors(log: str) -> list[str]:
    return [line for line in log.splitlines() if " ERROR " in line or "Traceback" in line]
