"""The soak test's load client (bench/soak.py): bounded, on 127.0.0.1, standard library only.

`Load` runs `concurrency` worker threads, each with its own keep-alive HTTP/1.1 connection to
each of the two servers, under one shared rate cap (requests a second, over all workers). Each
request goes to one of the two servers at random. What each worker does next is drawn from
`WEIGHTS`: thread pages by each sort (some revalidated with `If-None-Match`), replies, counts,
the server-rendered page, new comments and replies (guests, returning guests with their edit
token, signed-in readers with an SSO session), votes (up, down, change, undo), subscriptions,
edits and deletions of one's own comments, and moderators' decisions on waiting comments
(approve, reject, spam) and on visible ones (reject).

Readers are addresses in X-Forwarded-For (bench/readers.py), believed from 127.0.0.1
(`TOWNHALL_TRUSTED_PROXIES`); rate limits stay on. Reader numbers are split between the workers
(reader n belongs to worker n % concurrency), so one reader's requests never race each other and
the client knows the final vote of every reader on every comment. A few "hot" readers post much
faster than the site's limits allow, on purpose: their 429s are expected, and counted apart.

`EventStream` is one long-lived reader of a thread's live events (`text/event-stream`) on one
server, which closes and reopens its connection every so often with `Last-Event-ID`, and keeps
every event it receives.

Everything accepted is recorded (`Ledger`): the id, body, thread, server and time of every 2xx
comment, the outcome of every status-changing action, every vote, so bench/soak.py can compare
them with the database at the end.
"""

from __future__ import annotations

import http.client
import json
import random
import re
import socket
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

from readers import reader_address
from support import ARTICLE_ORIGIN

WRITE_HEADERS = {"Content-Type": "application/json", "Origin": ARTICLE_ORIGIN}
SORTS = ("newest", "oldest", "most_voted")
# Relative weights of what a worker does next.
WEIGHTS = {
    "thread:newest": 12,
    "thread:oldest": 7,
    "thread:most_voted": 7,
    "thread:revalidate": 14,
    "replies": 5,
    "counts": 5,
    "thread html": 3,
    "post": 9,
    "reply": 9,
    "vote": 18,
    "subscribe": 1,
    "edit": 1.5,
    "delete": 1,
    "moderate": 5,
}
HOT_READERS = 2  # readers who post past the rate limits (10 a minute), on purpose
HOT_SHARE = 0.1  # share of posts sent by one of them: about 20 a minute each
RETURNING_SHARE = 0.3  # guest posts sent with the reader's edit token from an earlier post
SIGNED_IN_SHARE = 0.15  # posts by a signed-in (SSO) reader, on the site that has SSO
HOT_THREAD_SHARE = 0.3  # posts on one of the threads the event streams watch
SUSPECT_WORD = "soakhold"  # held by the post-moderated site's rules
SUSPECT_SHARE = 0.06
LINKS_SHARE = 0.03  # two links, over the site's max_links of 1: held
RESEND_SHARE = 0.05  # accepted posts sent again with their Idempotency-Key (a lost answer)
WORDS = (  # noqa: SIM905 (a paragraph reads better than 40 quoted words)
    "council budget transit housing school river bridge election vote reform library park "
    "report data question answer agree disagree evidence source article reporter story week "
    "city county state market price wage rent tax energy water climate policy plan"
).split()
TIMEOUT = 30.0


# ---- what was accepted ---------------------------------------------------------------------


@dataclass
class Accepted:
    """A comment the server accepted (2xx), as the client knows it."""

    id: int
    token: str  # unique in the run; the body starts with it
    body: str
    site: str
    thread_url: str
    server: int  # index of the server it was posted through
    status: str  # what the post answered: visible (201) or pending (202)
    sent: float  # monotonic time the POST was sent
    answered: float  # ... and its answer received
    changes: list[tuple[str, str, float, float]] = field(default_factory=list)
    # (action, resulting status, sent, answered) of each accepted change: approve, reject,
    # spam, edit, delete

    def expected_status(self) -> str:
        return self.changes[-1][1] if self.changes else self.status


class Ledger:
    """Everything the load had accepted, shared by the workers (one lock)."""

    def __init__(self, run: str) -> None:
        self.run = run
        self.lock = threading.Lock()
        self.comments: dict[int, Accepted] = {}
        self.unknown: list[str] = []  # tokens of posts whose answer never came
        self.numbers = iter(range(1, 1 << 40))
        self.visible: dict[str, list[int]] = defaultdict(list)  # thread url -> visible ids
        self.pending: list[int] = []
        self.claimed: set[int] = set()  # comments one status-changing action took
        self.edit_tokens: dict[int, str] = {}  # comment id -> its edit token
        self.votes: dict[tuple[int, int], int] = {}  # (reader, comment) -> last accepted vote
        self.thread_ids: dict[str, int] = {}  # thread url -> id
        # Posts sent again with their Idempotency-Key: (comment id, the answer's status, the id
        # it answered, or None).
        self.resent: list[tuple[int, int | None, int | None]] = []

    def next_token(self) -> str:
        with self.lock:
            return f"soak-{self.run}-{next(self.numbers):07d}"

    def add(self, comment: Accepted, edit_token: str) -> None:
        with self.lock:
            self.comments[comment.id] = comment
            self.edit_tokens[comment.id] = edit_token
            if comment.status == "visible":
                self.visible[comment.thread_url].append(comment.id)
            else:
                self.pending.append(comment.id)

    def claim(self, pool: list[int], rng: random.Random, newest: int = 0) -> int | None:
        """Take one comment from `pool` (a random one, or among the `newest`) for a
        status-changing action; it is never changed again by the load."""
        with self.lock:
            candidates = pool[-newest:] if newest else pool
            for _ in range(8):
                if not candidates:
                    return None
                cid = rng.choice(candidates)
                if cid not in self.claimed:
                    self.claimed.add(cid)
                    if cid in pool:
                        pool.remove(cid)
                    return cid
            return None

    def changed(self, cid: int, action: str, status: str, sent: float, answered: float) -> None:
        with self.lock:
            comment = self.comments[cid]
            comment.changes.append((action, status, sent, answered))
            visible = self.visible[comment.thread_url]
            if status == "visible" and cid not in visible:
                visible.append(cid)
            elif status != "visible" and cid in visible:
                visible.remove(cid)

    def random_visible(self, url: str, rng: random.Random) -> int | None:
        with self.lock:
            ids = self.visible.get(url)
            return rng.choice(ids) if ids else None


# ---- HTTP -----------------------------------------------------------------------------------


class Stats:
    """Per operation: status counts, error codes of 4xx answers, latencies (ms)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: dict[str, Counter[str]] = defaultdict(Counter)
        self.codes: dict[str, Counter[str]] = defaultdict(Counter)
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.kinds: dict[str, Counter[str]] = defaultdict(Counter)
        self.failures: list[str] = []  # first few 5xx and transport errors, for the report

    def record(self, op: str, status: str, ms: float, code: str = "", detail: str = "") -> None:
        with self.lock:
            self.statuses[op][status] += 1
            self.latencies[op].append(ms)
            if code:
                self.codes[op][f"{status} {code}"] += 1
            if (status.startswith("5") or not status[0].isdigit()) and len(self.failures) < 50:
                self.failures.append(f"{time.strftime('%H:%M:%S')} {op} {status} {detail}"[:500])

    def kind(self, op: str, kind: str) -> None:
        with self.lock:
            self.kinds[op][kind] += 1


class Client:
    """One keep-alive HTTP/1.1 connection to one server, for one thread."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: http.client.HTTPConnection | None = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """Send one request; raises OSError/HTTPException on a transport error.

        A GET whose reused connection turns out closed by the server is sent once more on a
        new one; a write never is, so that no post is ever sent twice.
        """
        for attempt in (1, 2):
            fresh = self.conn is None
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                response = self.conn.getresponse()
                data = response.read()
                found = {k.lower(): v for k, v in response.getheaders()}
                if response.will_close:
                    self.close()
                return response.status, found, data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if fresh or method != "GET" or attempt == 2:
                    raise
            except (OSError, http.client.HTTPException):
                self.close()
                raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class RateCap:
    """At most `rate` requests a second over every worker: each takes the next free slot."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.lock = threading.Lock()
        self.next = time.monotonic()

    def wait(self, stop: threading.Event) -> bool:
        with self.lock:
            now = time.monotonic()
            slot = max(self.next, now)
            self.next = slot + self.interval
        delay = slot - time.monotonic()
        return not (delay > 0 and stop.wait(delay))


# ---- the load -------------------------------------------------------------------------------


@dataclass
class Site:
    slug: str
    threads: list[str]  # article URLs
    sso: bool = False


@dataclass
class Moderator:
    """A moderator's session on the moderators' pages (shared by every worker)."""

    username: str
    password: str
    cookies: dict[str, str] = field(default_factory=dict)

    def header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def take_cookies(self, headers: list[tuple[str, str]]) -> None:
        for name, value in headers:
            if name.lower() == "set-cookie":
                jar: SimpleCookie = SimpleCookie()
                jar.load(value)
                for key, morsel in jar.items():
                    self.cookies[key] = morsel.value


def moderator_login(port: int, moderator: Moderator) -> None:
    """Log in at /moderate/login/ (the login form, with its CSRF cookie), once for the run:
    sessions are in the database, so the session works on both servers."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request("GET", "/moderate/login/")
        response = conn.getresponse()
        response.read()
        moderator.take_cookies(response.getheaders())
        form = urllib.parse.urlencode(
            {
                "username": moderator.username,
                "password": moderator.password,
                "csrfmiddlewaretoken": moderator.cookies.get("csrftoken", ""),
            }
        )
        conn.request(
            "POST",
            "/moderate/login/",
            body=form,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": moderator.header(),
            },
        )
        response = conn.getresponse()
        response.read()
        moderator.take_cookies(response.getheaders())
        if response.status != 302 or "sessionid" not in moderator.cookies:
            raise RuntimeError(f"moderator login answered {response.status}")
    finally:
        conn.close()


class Load:
    """The mixed traffic: `concurrency` workers under one rate cap, until `stop` is set."""

    def __init__(
        self,
        ports: list[int],
        sites: list[Site],
        ledger: Ledger,
        moderator: Moderator,
        sessions: list[str],
        hot_threads: list[str],
        concurrency: int,
        rate: float,
        readers: int,
        first_reader: int,
        seed: int,
    ) -> None:
        self.ports = ports
        self.sites = sites
        self.ledger = ledger
        self.moderator = moderator
        self.sessions = sessions  # SSO session tokens, split between the workers like readers
        self.hot_threads = hot_threads
        self.concurrency = concurrency
        self.cap = RateCap(rate)
        self.readers = readers
        self.first_reader = first_reader
        self.seed = seed
        self.stats = Stats()
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.site_of = {url: site for site in sites for url in site.threads}

    def start(self) -> None:
        for index in range(self.concurrency):
            thread = threading.Thread(target=self._work, args=(index,), name=f"soak-{index}")
            thread.daemon = True
            thread.start()
            self.threads.append(thread)

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(TIMEOUT + 5)

    # -- one worker --

    def _work(self, index: int) -> None:
        rng = random.Random(self.seed * 1000 + index)
        clients = [Client(port) for port in self.ports]
        ops = list(WEIGHTS)
        weights = [WEIGHTS[op] for op in ops]
        own_readers = [
            self.first_reader + n for n in range(self.readers) if n % self.concurrency == index
        ]
        own_sessions = self.sessions[index :: self.concurrency]
        tokens: dict[str, dict[int, str]] = {}  # site -> reader -> their last edit token
        etags: dict[str, str] = {}
        worker = Worker(self, rng, clients, own_readers, own_sessions, tokens, etags)
        try:
            while self.cap.wait(self.stop):
                op = rng.choices(ops, weights)[0]
                try:
                    worker.run(op)
                except Exception as error:  # a harness bug must not stop the load
                    self.stats.record(op, "client-error", 0.0, detail=repr(error))
        finally:
            for client in clients:
                client.close()


class Worker:
    """What one load thread does; see `WEIGHTS` and the module docstring."""

    def __init__(
        self,
        load: Load,
        rng: random.Random,
        clients: list[Client],
        readers: list[int],
        sessions: list[str],
        tokens: dict[str, dict[int, str]],
        etags: dict[str, str],
    ) -> None:
        self.load = load
        self.rng = rng
        self.clients = clients
        self.readers = readers
        self.sessions = sessions
        self.tokens = tokens
        self.etags = etags
        self.ledger = load.ledger
        self.stats = load.stats
        self.voted: list[tuple[int, int]] = []  # (reader, comment) this worker voted on

    def call(
        self,
        op: str,
        method: str,
        path: str,
        payload: Any = None,
        headers: dict[str, str] | None = None,
        server: int | None = None,
        form: bool = False,
    ) -> tuple[int | None, dict[str, str], Any, int, float, float]:
        """One request to one server (random unless given); records its status and latency.

        Returns (status or None on a transport error, headers, parsed JSON or raw body,
        server index, sent time, answered time)."""
        index = self.rng.randrange(len(self.clients)) if server is None else server
        body = None
        if payload is not None:
            body = (urllib.parse.urlencode(payload) if form else json.dumps(payload)).encode()
        sent = time.monotonic()
        try:
            status, found, raw = self.clients[index].request(method, path, body, headers)
        except (OSError, http.client.HTTPException) as error:
            answered = time.monotonic()
            self.stats.record(op, type(error).__name__, (answered - sent) * 1000, detail=path)
            return None, {}, None, index, sent, answered
        answered = time.monotonic()
        parsed: Any = raw
        if found.get("content-type", "").startswith("application/json") and raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = raw
        code = ""
        if status >= 400 and isinstance(parsed, dict):
            code = str((parsed.get("error") or {}).get("code", ""))
        detail = f"{method} {path} {raw[:300]!r}" if status >= 500 else ""
        self.stats.record(op, str(status), (answered - sent) * 1000, code, detail)
        return status, found, parsed, index, sent, answered

    def reader(self) -> int:
        return self.rng.choice(self.readers)

    def any_thread(self) -> tuple[Site, str]:
        site = self.rng.choices(self.load.sites, [len(s.threads) for s in self.load.sites])[0]
        return site, self.rng.choice(site.threads)

    def run(self, op: str) -> None:
        if op.startswith("thread:"):
            self.read_thread(op)
        else:
            getattr(self, op.replace(" ", "_"))(op)

    # -- reads --

    def read_thread(self, op: str) -> None:
        headers = {}
        if op == "thread:revalidate" and self.etags:
            # A page this worker read before, sent back with its ETag, as a browser does.
            path = self.rng.choice(list(self.etags))
            headers["If-None-Match"] = self.etags[path]
        else:
            site, url = self.any_thread()
            sort = op.split(":")[1] if op != "thread:revalidate" else self.rng.choice(SORTS)
            op = f"thread:{sort}"
            query = urllib.parse.urlencode(
                {"site": site.slug, "url": url, "sort": sort, "limit": 20, "replies": 3}
            )
            path = f"/api/v1/threads?{query}"
        status, found, _body, *_ = self.call(op, "GET", path, headers=headers)
        if status == 200 and "etag" in found:
            self.etags[path] = found["etag"]

    def replies(self, op: str) -> None:
        _site, url = self.any_thread()
        cid = self.ledger.random_visible(url, self.rng)
        if cid is not None:
            self.call(op, "GET", f"/api/v1/comments/{cid}/replies?limit=50")

    def counts(self, op: str) -> None:
        site = self.rng.choice(self.load.sites)
        urls = self.rng.sample(site.threads, min(10, len(site.threads)))
        query = urllib.parse.urlencode([("site", site.slug), *(("url", u) for u in urls)])
        self.call(op, "GET", f"/api/v1/counts?{query}")

    def thread_html(self, op: str) -> None:
        site, url = self.any_thread()
        self.call(op, "GET", f"/t/{site.slug}/?{urllib.parse.urlencode({'url': url})}")

    # -- posts --

    def post(self, op: str) -> None:
        self.write_comment(op, reply=False)

    def reply(self, op: str) -> None:
        self.write_comment(op, reply=True)

    def write_comment(self, op: str, reply: bool) -> None:
        rng = self.rng
        if rng.random() < HOT_THREAD_SHARE:
            url = rng.choice(self.load.hot_threads)
            site = self.load.site_of[url]
        else:
            site, url = self.any_thread()
        parent = self.ledger.random_visible(url, rng) if reply else None
        if reply and parent is None:
            return
        token = self.ledger.next_token()
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 30)))
        body = f"{token} {words.capitalize()}."
        if rng.random() < SUSPECT_SHARE:
            body += f" {SUSPECT_WORD.capitalize()} this one."
        elif rng.random() < LINKS_SHARE:
            body += " See https://example.org/a and https://example.org/b for more."
        payload: dict[str, Any] = {"site": site.slug, "url": url, "body": body}
        if parent is not None:
            payload["parent_id"] = parent
        headers = dict(WRITE_HEADERS)
        reader = self.reader()
        kind = "guest"
        if rng.random() < HOT_SHARE:
            reader = rng.randrange(HOT_READERS)  # the hot readers: 0, 1
            kind = "hot reader"
        elif site.sso and self.sessions and rng.random() < SIGNED_IN_SHARE:
            headers["Authorization"] = f"Bearer {rng.choice(self.sessions)}"
            kind = "signed in"
        elif self.tokens.get(site.slug) and rng.random() < RETURNING_SHARE:
            # A reader back with the edit token of their earlier post on this site.
            reader = rng.choice(list(self.tokens[site.slug]))
            headers["Authorization"] = f"Bearer {self.tokens[site.slug][reader]}"
            kind = "returning guest"
        if kind in ("guest", "hot reader"):
            payload["author_name"] = f"Reader {reader}"
            if rng.random() < 0.3:
                payload["author_email"] = f"reader-{reader}@mail.example.com"
                payload["notify_replies"] = rng.random() < 0.5
        headers["X-Forwarded-For"] = reader_address(reader)
        headers["Idempotency-Key"] = f"{rng.getrandbits(128):032x}"
        self.stats.kind(op, kind)
        status, _found, answer, server, sent, answered = self.call(
            op, "POST", "/api/v1/comments", payload, headers
        )
        if status is None:
            with self.ledger.lock:
                self.ledger.unknown.append(token)
            return
        if status in (201, 202) and isinstance(answer, dict):
            comment = answer["comment"]
            self.ledger.add(
                Accepted(
                    id=int(comment["id"]),
                    token=token,
                    body=body,
                    site=site.slug,
                    thread_url=url,
                    server=server,
                    status="visible" if status == 201 else "pending",
                    sent=sent,
                    answered=answered,
                ),
                answer["edit_token"],
            )
            if kind == "guest":
                self.tokens.setdefault(site.slug, {})[reader] = answer["edit_token"]
            if rng.random() < RESEND_SHARE:
                self.resend(int(comment["id"]), payload, headers)

    def resend(self, comment_id: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
        """The same post again, with the same key, to either server: as a client does that
        never got the first answer. It must answer the comment stored first and store nothing."""
        path = "/api/v1/comments"
        status, _found, answer, *_ = self.call("repost", "POST", path, payload, headers)
        answered_id = None
        if status in (201, 202) and isinstance(answer, dict):
            answered_id = int(answer["comment"]["id"])
        with self.ledger.lock:
            self.ledger.resent.append((comment_id, status, answered_id))

    # -- votes, subscriptions --

    def vote(self, op: str) -> None:
        if self.voted and self.rng.random() < 0.4:
            reader, cid = self.rng.choice(self.voted)  # a reader changes or withdraws a vote
        else:
            _site, url = self.any_thread()
            found = self.ledger.random_visible(url, self.rng)
            if found is None:
                return
            reader, cid = self.reader(), found
            self.voted.append((reader, cid))
        before = self.ledger.votes.get((reader, cid), 0)
        if before == 0:
            value = self.rng.choice((1, 1, -1))
            kind = "up" if value == 1 else "down"
        elif self.rng.random() < 0.5:
            value, kind = -before, "change"
        else:
            value, kind = 0, "undo"
        self.stats.kind(op, kind)
        headers = {**WRITE_HEADERS, "X-Forwarded-For": reader_address(reader)}
        path = f"/api/v1/comments/{cid}/vote"
        status, *_ = self.call(op, "POST", path, {"value": value}, headers)
        if status == 200:
            with self.ledger.lock:
                self.ledger.votes[(reader, cid)] = value

    def subscribe(self, op: str) -> None:
        site, url = self.any_thread()
        reader = self.reader()
        payload = {
            "site": site.slug,
            "url": url,
            "email": f"reader-{reader}@mail.example.com",
            "kind": "thread",
        }
        headers = {**WRITE_HEADERS, "X-Forwarded-For": reader_address(reader)}
        self.call(op, "POST", "/api/v1/subscriptions", payload, headers)

    # -- one's own comment: edit, delete --

    def own_comment(self) -> tuple[int, str] | None:
        """A comment of the last minutes (within the edit window), taken for good."""
        with self.ledger.lock:
            recent = [c for ids in self.ledger.visible.values() for c in ids[-5:]]
        cid = self.ledger.claim(recent, self.rng)
        if cid is None:
            return None
        return cid, self.ledger.edit_tokens[cid]

    def edit(self, op: str) -> None:
        taken = self.own_comment()
        if taken is None:
            return
        cid, token = taken
        comment = self.ledger.comments[cid]
        body = f"{comment.token} Edited: {comment.body.split(' ', 1)[1]}"
        headers = {**WRITE_HEADERS, "Authorization": f"Bearer {token}"}
        status, _f, answer, _s, sent, answered = self.call(
            op, "PATCH", f"/api/v1/comments/{cid}", {"body": body}, headers
        )
        if status == 200 and isinstance(answer, dict):
            with self.ledger.lock:
                comment.body = body
            self.ledger.changed(cid, "edit", str(answer["status"]), sent, answered)

    def delete(self, op: str) -> None:
        taken = self.own_comment()
        if taken is None:
            return
        cid, token = taken
        headers = {"Origin": ARTICLE_ORIGIN, "Authorization": f"Bearer {token}"}
        status, _f, _a, _s, sent, answered = self.call(
            op, "DELETE", f"/api/v1/comments/{cid}", headers=headers
        )
        if status == 204:
            self.ledger.changed(cid, "delete", "deleted", sent, answered)

    # -- moderation --

    def moderate(self, op: str) -> None:
        """A decision on a waiting comment (approve 60%, reject 30%, spam 10%), or, one time in
        five, a visible comment rejected (taken out of its thread)."""
        rng = self.rng
        if rng.random() < 0.2:
            _site, url = self.any_thread()
            with self.ledger.lock:
                pool = list(self.ledger.visible.get(url, []))
            cid = self.ledger.claim(pool, rng)
            decision = "reject"
            kind = "reject visible"
        else:
            cid = self.ledger.claim(self.ledger.pending, rng)
            decision = rng.choices(("approve", "reject", "spam"), (6, 3, 1))[0]
            kind = f"{decision} pending"
        if cid is None:
            return
        self.stats.kind(op, kind)
        comment = self.ledger.comments[cid]
        moderator = self.load.moderator
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            "Cookie": moderator.header(),
        }
        form = {"decision": decision, "csrfmiddlewaretoken": moderator.cookies["csrftoken"]}
        path = f"/moderate/{comment.site}/comments/{cid}/decide/"
        status, _f, _a, _s, sent, answered = self.call(op, "POST", path, form, headers, form=True)
        if status == 200:
            result = {"approve": "visible", "reject": "rejected", "spam": "spam"}[decision]
            self.ledger.changed(cid, decision, result, sent, answered)


# ---- live event streams ---------------------------------------------------------------------

EVENT_BLOCK = re.compile(rb"\r?\n\r?\n")


class EventStream(threading.Thread):
    """One reader of a thread's live events on one server, reconnecting with Last-Event-ID.

    It opens with `?last_event_id=` of a thread page read just before (`began` is the time that
    page was asked for: every change committed after it must come), then closes its connection
    every `reconnect` seconds (±30%) and opens a new one with the last `id:` it received in
    `Last-Event-ID`, as EventSource does after a drop. Events are kept as
    (event id, kind, comment id or None, connection number, arrival time).
    """

    def __init__(
        self, index: int, port: int, server: int, thread_id: int, thread_url: str, reconnect: float
    ) -> None:
        super().__init__(name=f"soak-events-{index}", daemon=True)
        self.index = index
        self.port = port
        self.server = server
        self.thread_id = thread_id
        self.thread_url = thread_url
        self.reconnect = reconnect
        self.stop = threading.Event()
        self.events: list[tuple[int, str, int | None, int, float]] = []
        self.connections = 0
        self.statuses: Counter[str] = Counter()
        self.errors: list[str] = []
        self.began = 0.0
        self.last_id = 0
        self.connected = threading.Event()

    def open(self, last_event_id: int, began: float) -> None:
        self.last_id = last_event_id
        self.began = began
        self.start()

    def run(self) -> None:
        rng = random.Random(self.index)
        first = True
        while not self.stop.is_set():
            lifetime = self.reconnect * rng.uniform(0.7, 1.3)
            try:
                self._connect(first, time.monotonic() + lifetime)
            except (OSError, ValueError) as error:
                if len(self.errors) < 20:
                    self.errors.append(f"{type(error).__name__}: {error}")
                self.stop.wait(2.0)  # the server asks for 2 s before a reconnection
            first = False

    def _connect(self, first: bool, until: float) -> None:
        path = f"/api/v1/threads/{self.thread_id}/events"
        query = f"?last_event_id={self.last_id}" if first else ""
        lines = [f"GET {path}{query} HTTP/1.1"]
        lines += [f"Host: 127.0.0.1:{self.port}", "Accept: text/event-stream"]
        lines += [f"Origin: {ARTICLE_ORIGIN}"]
        if not first:
            lines.append(f"Last-Event-ID: {self.last_id}")
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self.connections += 1
        number = self.connections
        try:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            sock.settimeout(0.5)
            raw = b""  # bytes as received
            body = b""  # the response body, chunked encoding removed
            chunked: bool | None = None
            while not self.stop.is_set() and time.monotonic() < until:
                try:
                    chunk = sock.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    raise ConnectionError("stream ended by the server")
                raw += chunk
                if chunked is None:
                    if b"\r\n\r\n" not in raw:
                        continue
                    head, raw = raw.split(b"\r\n\r\n", 1)
                    status = head.split(b"\r\n", 1)[0].split(b" ")[1].decode()
                    self.statuses[status] += 1
                    if status != "200":
                        raise ConnectionError(f"events answered {status}: {raw[:200]!r}")
                    chunked = b"transfer-encoding: chunked" in head.lower()
                    self.connected.set()
                if chunked:
                    decoded, raw = dechunk(raw)
                    body += decoded
                else:
                    body, raw = body + raw, b""
                body = self._parse(body, number)
        finally:
            sock.close()

    def _parse(self, buffer: bytes, number: int) -> bytes:
        """Take the complete events out of the body; return what is left."""
        while True:
            match = EVENT_BLOCK.search(buffer)
            if not match:
                return buffer
            block, buffer = buffer[: match.start()], buffer[match.end() :]
            event_id, kind, data = None, "", b""
            for line in block.split(b"\n"):
                line = line.rstrip(b"\r")
                name, _, value = line.partition(b":")
                value = value[1:] if value.startswith(b" ") else value
                if name == b"id":
                    event_id = int(value)
                elif name == b"event":
                    kind = value.decode()
                elif name == b"data":
                    data = value
            if event_id is not None:
                self.last_id = event_id
            if kind and event_id is not None:
                comment_id = None
                if kind == "comment":
                    comment_id = int(json.loads(data)["comment"]["id"])
                self.events.append((event_id, kind, comment_id, number, time.monotonic()))

    def finish(self) -> None:
        self.stop.set()
        self.join(5)


def dechunk(raw: bytes) -> tuple[bytes, bytes]:
    """The data of the complete chunks at the start of `raw` (chunked transfer encoding), and
    the bytes left over (a chunk not yet complete)."""
    data = b""
    while True:
        size_end = raw.find(b"\r\n")
        if size_end < 0:
            return data, raw
        size = int(raw[:size_end].split(b";")[0], 16)
        start = size_end + 2
        if size == 0:
            raise ConnectionError("stream ended by the server (last chunk)")
        if len(raw) < start + size + 2:
            return data, raw
        data += raw[start : start + size]
        raw = raw[start + size + 2 :]
