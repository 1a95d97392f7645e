"""Fault test: PostgreSQL restarted under load, under a real `townhall serve` (Granian).

A private PostgreSQL (``_services``: its own cluster, port and directory; never the machine's)
serves a migrated database with the demo site. A few threads post comments and read the thread,
the demo's article page and the live event stream while PostgreSQL is stopped and started again.
Every response is recorded. Then:

* no 5xx other than 503, and each 503 has a Retry-After, the API's JSON error
  ``database_unavailable`` or, for the page, a short HTML page;
* requests succeed again within seconds of PostgreSQL's return, with no restart of the server
  (its broken persistent connections are dropped and opened again);
* every comment whose POST got a 2xx is in the database exactly once, also when it was refused
  first and sent again with its Idempotency-Key, as the widget does; each thread's count
  matches its rows: a 503 left nothing half-written.

It runs in the SQLite pass only: its database is its own, whatever the suite's.
"""

from __future__ import annotations

import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection

from tests.browser.support import ARTICLE_PATH, Server
from tests.hardening._services import PrivatePostgres, call, private_postgres, townhall_server
from townhall.discussions.models import Comment, Thread

pytestmark = pytest.mark.skipif(
    connection.vendor != "sqlite",
    reason="runs its own PostgreSQL whatever the suite's database: in the SQLite pass only",
)

COMMENTS, THREADS = Comment._meta.db_table, Thread._meta.db_table
POSTERS = 2
DOWN_SECONDS = 1.5
RECOVERY_SECONDS = 5.0  # from PostgreSQL's return to the first success of each kind


@dataclass(frozen=True)
class Outcome:
    kind: str  # "post", "thread", "page" or "events"
    at: float  # time.monotonic() when the answer came
    status: int
    retry_after: str | None
    content_type: str
    code: str | None  # the API's error code, for a JSON error
    body: str | None = None  # the comment posted


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        yield server


@pytest.fixture
def server(postgres: PrivatePostgres, tmp_path: Path) -> Iterator[Server]:
    with townhall_server(tmp_path, DATABASE_URL=postgres.url) as server:
        yield server


def _request(server: Server, kind: str, method: str, path: str, body=None, headers=None) -> Outcome:
    reply = call(server, method, path, body, headers)
    content_type = reply.headers.get("Content-Type", "")
    code = None
    if reply.status >= 400 and reply.body and content_type.startswith("application/json"):
        code = reply.json()["error"]["code"]
    return Outcome(
        kind,
        time.monotonic(),
        reply.status,
        reply.headers.get("Retry-After"),
        content_type,
        code,
        (body or {}).get("body"),
    )


def _load(
    server: Server, thread_id: int, stop: threading.Event
) -> tuple[list[threading.Thread], list[Outcome], list[BaseException]]:
    """Posting and reading threads, running until ``stop``; their outcomes and failures."""
    outcomes: list[Outcome] = []
    failures: list[BaseException] = []
    query = urllib.parse.urlencode({"site": "demo", "url": server.article_url})

    def post() -> None:
        """Posts as the widget does: a refused post is sent again, with the same key, until it
        is answered (the reader pressing Post again)."""
        while not stop.is_set():
            body = {"site": "demo", "url": server.article_url, "body": f"Load {uuid.uuid4()}"}
            key = {"Idempotency-Key": uuid.uuid4().hex}
            while True:
                outcome = _request(server, "post", "POST", "/api/v1/comments", body, key)
                outcomes.append(outcome)
                if outcome.status != 503 or stop.is_set():
                    break
                time.sleep(0.05)

    def read() -> None:
        while not stop.is_set():
            outcomes.append(_request(server, "thread", "GET", f"/api/v1/threads?{query}"))
            outcomes.append(_request(server, "page", "GET", ARTICLE_PATH))
            events = f"/api/v1/threads/{thread_id}/events"
            outcomes.append(_request(server, "events", "HEAD", events))
            time.sleep(0.02)

    def guarded(work) -> None:
        try:
            work()
        except BaseException as error:  # a timeout, a reset: no answer at all
            failures.append(error)

    workers = [threading.Thread(target=guarded, args=(post,)) for _ in range(POSTERS)]
    workers.append(threading.Thread(target=guarded, args=(read,)))
    for worker in workers:
        worker.start()
    return workers, outcomes, failures


def _count(postgres: PrivatePostgres, body: str) -> int:
    query = f"SELECT COUNT(*) FROM {COMMENTS} WHERE body = %s"  # noqa: S608 (a table name)
    return postgres.query(query, (body,))[0][0]


def test_postgres_restarted_under_load(postgres: PrivatePostgres, server: Server) -> None:
    first = call(
        server,
        "POST",
        "/api/v1/comments",
        {"site": "demo", "url": server.article_url, "body": f"Opens {uuid.uuid4()}"},
    )
    assert first.status == 201, first.body
    query = urllib.parse.urlencode({"site": "demo", "url": server.article_url})
    thread_id = call(server, "GET", f"/api/v1/threads?{query}").json()["thread"]["id"]

    stop = threading.Event()
    workers, outcomes, failures = _load(server, thread_id, stop)
    try:
        time.sleep(1.0)
        postgres.stop()
        time.sleep(DOWN_SECONDS)
        postgres.start()
        back = time.monotonic()
        deadline = back + RECOVERY_SECONDS + 2
        while time.monotonic() < deadline:
            recovered = {o.kind for o in list(outcomes) if o.at > back and o.status < 500}
            if recovered >= {"post", "thread", "page", "events"}:
                break
            time.sleep(0.1)
        time.sleep(1.0)  # and go on succeeding
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=15)

    assert failures == [], failures
    statuses = sorted({o.status for o in outcomes})
    assert set(statuses) <= {200, 201, 202, 503}, statuses
    refused = [o for o in outcomes if o.status == 503]
    assert refused, f"PostgreSQL's restart refused nothing: {statuses}"
    for outcome in refused:
        assert outcome.retry_after and int(outcome.retry_after) > 0, outcome
        if outcome.kind == "page":
            assert outcome.content_type.startswith("text/html"), outcome
        elif outcome.kind == "events":  # HEAD: the JSON error's headers, without its body
            assert outcome.content_type.startswith("application/json"), outcome
        else:
            assert outcome.code == "database_unavailable", outcome

    # Recovery without a restart of the server: each kind of request succeeded again soon, and
    # nothing failed once one had.
    for kind in ("post", "thread", "page", "events"):
        after = [o for o in outcomes if o.kind == kind and o.at > back]
        successes = [o for o in after if o.status < 500]
        assert successes, f"no {kind} succeeded after PostgreSQL came back"
        assert successes[0].at - back < RECOVERY_SECONDS, kind
        assert all(o.status < 500 for o in after if o.at > successes[0].at), kind

    # Every accepted comment once, including those refused first and then sent again with
    # their key (if PostgreSQL had committed one as the connection dropped, the retry got it
    # back instead of posting it twice); one refused and never retried was not written, or
    # whole and once.
    accepted = [o.body for o in outcomes if o.kind == "post" and o.status < 300]
    assert accepted
    assert [b for b in accepted if _count(postgres, b) != 1] == []
    refused_posts = {o.body for o in refused if o.kind == "post"}
    assert refused_posts & set(accepted), "no refused post was retried and accepted"
    assert [b for b in refused_posts if _count(postgres, b) > 1] == []
    inconsistent = postgres.query(
        f"SELECT t.id, t.comment_count, COUNT(c.id) FROM {THREADS} t"  # noqa: S608
        f" LEFT JOIN {COMMENTS} c ON c.thread_id = t.id AND c.status = 'visible'"
        " GROUP BY t.id HAVING t.comment_count != COUNT(c.id)"
    )
    assert inconsistent == []

    log = server.log()
    assert "Traceback" not in log, log[-4000:]
    assert "The database does not answer" in log
