"""Soak test: mixed traffic for minutes on PostgreSQL and Redis, two servers and a worker.

Setup: a fresh PostgreSQL database (`townhall_soak`, dropped and created again), Redis database
9 (flushed), a temporary TOWNHALL_VAR_DIR; `townhall migrate`; two sites created through the
site actions (`soak`: post-moderation, suspect word "soakhold", max_links 1, guest and SSO
sign-in; `soakpre`: pre-moderation, a moderator email); a moderator for both (`townhall
moderator add`); the first comment of each thread. Then two `townhall serve` processes on two
ports (same database and Redis: live events cross between them through Redis pub/sub) and one
`townhall worker` (email to files). Rate limits stay on; readers are told apart by
X-Forwarded-For, believed from 127.0.0.1 (TOWNHALL_TRUSTED_PROXIES).

Load (bench/soak_load.py): a bounded client on 127.0.0.1, fixed concurrency, one rate cap.
Event streams: two per watched thread, one on each server, reconnecting with Last-Event-ID.
Memory: VmRSS of every process of each server and of the worker (bench/memory.py's sampler).

Checks at the end (the run fails, exit 1, naming each failed check): see CHECKS in
docs/reliability.md, written from the JSON result by `section_markdown`.

Usage: python bench/soak.py [--minutes 10] [--seconds N] [--rate 40] [--concurrency 12]
                            [--from-json FILE] [--no-docs]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import report
import soak_load
from memory import RssSampler
from soak_load import Ledger, Load, Moderator, Site
from support import (
    ARTICLE_ORIGIN,
    REPO_DIR,
    BenchError,
    free_port,
    http_json,
    log_tail,
    run_logged,
    source_state,
    start_server,
    stop_server,
    wait_until_ready,
)
from townhall_peer import townhall_bin

BENCH_KEY = "soak"
DOCS_PATH = REPO_DIR / "docs" / "reliability.md"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "townhall_soak"
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DATABASE}"
REDIS_URL = "redis://127.0.0.1:6379/9"
SSO_SECRET = "soak-only-sso-secret-not-secret-0123456789abcdef"  # noqa: S105
MODERATOR = ("soakmod", "soak-moderator-Pw-4821")
THREADS = {"soak": 30, "soakpre": 8}
HOT_THREADS = 3  # threads watched by event streams, each on both servers
SIGNED_IN = 24  # SSO readers
READERS = 6000  # guest readers (addresses), split between the workers
FIRST_READER = 100  # readers below are the hot ones (bench/soak_load.py HOT_READERS)
WARMUP_SHARE = 0.2
MEMORY_GROWTH_LIMIT = 0.10  # last quarter's median at most 10% above the second quarter's
MEMORY_SLACK_MIB = 8.0  # ... or at most this many MiB above it (small processes, noise)
EVENT_GRACE_S = 5.0  # after the load stops, streams get this long to receive the last events
# Each server keeps built thread pages in a per-process LRU of TOWNHALL_PAGE_MEMORY_MB (64 by
# default; townhall/discussions/pages.py). Every write makes new pages, so at this load a
# process's memory grows by that cache until it is full (7 MiB a minute in the trial run), which
# at the default would take most of a 10-minute run. A smaller cap fills during the warm-up, so
# that growth after it is growth beyond a bounded cache.
PAGE_MEMORY_MB = 4
DOC_HEADER = """\
# Reliability

What Townhall has been put through beyond its test suite, with the command that did it.
Sections between `<!-- bench:KEY:start/end -->` markers are written by the harness from its
JSON results (`bench/results/`); the rest of this page is kept.
"""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="load duration (default 10)")
    parser.add_argument("--seconds", type=float, help="load duration in seconds (overrides)")
    parser.add_argument("--rate", type=float, default=40.0, help="requests/s cap (default 40)")
    parser.add_argument("--concurrency", type=int, default=12, help="load workers (default 12)")
    parser.add_argument("--streams-reconnect", type=float, default=45.0, metavar="SECONDS")
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument(
        "--page-memory-mb",
        type=int,
        default=PAGE_MEMORY_MB,
        help=f"TOWNHALL_PAGE_MEMORY_MB of the servers (default {PAGE_MEMORY_MB}; Townhall's is 64)",
    )
    parser.add_argument("--from-json", type=Path, help="only write the docs from this result")
    parser.add_argument("--docs", type=Path, default=DOCS_PATH)
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument("--trial", action="store_true", help="mark the report as a trial run")
    # Proves the checks can fail: breaks a thread's stored count in the database just before
    # the checks (the count check must then fail).
    parser.add_argument("--self-check", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.duration = args.seconds if args.seconds else args.minutes * 60
    if not 5 <= args.duration <= 4 * 3600 or not 1 <= args.concurrency <= 64:
        parser.error("duration 5 s to 4 h, concurrency 1 to 64")
    if not 1 <= args.rate <= 500:
        parser.error("--rate 1 to 500")
    return args


# ---- setup ----------------------------------------------------------------------------------


def fresh_stores() -> dict[str, str]:
    """Drop and create the soak's own database; flush its own Redis database. Returns the
    servers' versions."""
    import psycopg
    import redis

    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")
        row = conn.execute("SHOW server_version").fetchone()
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    return {
        "postgres": str(row[0]).split()[0] if row else "unknown",
        "redis": str(client.info("server").get("redis_version", "unknown")),
    }


def environment(workdir: Path, public_port: int, page_memory_mb: int) -> dict[str, str]:
    return {
        **os.environ,
        "TOWNHALL_VAR_DIR": str(workdir / "var"),
        "TOWNHALL_DATABASE_URL": DATABASE_URL,
        "TOWNHALL_REDIS_URL": REDIS_URL,
        "TOWNHALL_CACHE_PREFIX": "soak",
        "TOWNHALL_SECRET_KEY": "soak-only-not-secret-" + "x" * 40,
        "TOWNHALL_DEBUG": "0",
        "TOWNHALL_TRUSTED_PROXIES": "127.0.0.1",
        "TOWNHALL_PUBLIC_URL": f"http://127.0.0.1:{public_port}",
        "TOWNHALL_PAGE_MEMORY_MB": str(page_memory_mb),
    }


SETUP_CODE = """
from townhall.sites.actions import do_create_site, do_set_sign_in
site = do_create_site(slug="soak", name="Soak", origins=[{origin!r}],
                      suspect_words=["soakhold"], max_links=1)
do_set_sign_in(site, methods=["guest", "sso"], sso_algorithm="HS256", sso_secret={secret!r})
do_create_site(slug="soakpre", name="Soak pre", origins=[{origin!r}], moderation_mode="pre",
               moderator_emails=["desk@mail.example.com"])
"""


def prepare(townhall: Path, env: dict[str, str], workdir: Path) -> None:
    log = workdir / "setup.log"
    run_logged([str(townhall), "migrate", "--no-input"], log, env, cwd=workdir)
    code = SETUP_CODE.format(origin=ARTICLE_ORIGIN, secret=SSO_SECRET)
    run_logged([str(townhall), "shell", "-c", code], log, env, cwd=workdir)
    for slug in THREADS:
        result = subprocess.run(
            [str(townhall), "moderator", "add", MODERATOR[0], "--site", slug, "--password-stdin"],
            input=MODERATOR[1] + "\n",
            env=env,
            cwd=workdir,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise BenchError(f"townhall moderator add failed: {result.stderr}")


def thread_url(slug: str, number: int) -> str:
    return f"{ARTICLE_ORIGIN}/soak/{slug}/{number}"


def first_comments(base: str, ledger: Ledger) -> None:
    """The first comment of every thread (it creates the thread), recorded like the others."""
    for slug, count in THREADS.items():
        for number in range(count):
            url = thread_url(slug, number)
            token = ledger.next_token()
            body = f"{token} First comment on article {number}."
            payload = {"site": slug, "url": url, "title": f"Article {number}", "body": body}
            headers = {**soak_load.WRITE_HEADERS, "X-Forwarded-For": f"10.250.{number}.1"}
            sent = time.monotonic()
            status, answer, raw = http_json("POST", f"{base}/api/v1/comments", payload, headers)
            if status not in (201, 202):
                raise BenchError(f"first comment on {url}: HTTP {status} {raw[:300]!r}")
            comment = answer["comment"]
            ledger.add(
                soak_load.Accepted(
                    id=int(comment["id"]),
                    token=token,
                    body=body,
                    site=slug,
                    thread_url=url,
                    server=0,
                    status="visible" if status == 201 else "pending",
                    sent=sent,
                    answered=time.monotonic(),
                ),
                answer["edit_token"],
            )


def sign_in(base: str, count: int) -> list[str]:
    """SSO session tokens of `count` signed-in readers of the `soak` site."""
    import uuid

    import jwt

    tokens = []
    for number in range(count):
        now = int(time.time())
        claims = {
            "sub": f"soak-user-{number}",
            "name": f"Signed-in reader {number}",
            "email": f"member-{number}@mail.example.com",
            "aud": "soak",
            "iat": now,
            "exp": now + 300,
            "jti": uuid.uuid4().hex,
        }
        token = jwt.encode(claims, SSO_SECRET, algorithm="HS256")
        headers = {"Origin": ARTICLE_ORIGIN, "X-Forwarded-For": f"10.251.{number}.1"}
        status, answer, raw = http_json(
            "POST", f"{base}/api/v1/auth/sso", {"site": "soak", "token": token}, headers
        )
        if status != 200:
            raise BenchError(f"SSO sign-in: HTTP {status} {raw[:300]!r}")
        tokens.append(answer["session_token"])
    return tokens


def thread_state(base: str, slug: str, url: str) -> tuple[int, int]:
    query = urllib.parse.urlencode({"site": slug, "url": url})
    status, answer, raw = http_json("GET", f"{base}/api/v1/threads?{query}")
    if status != 200:
        raise BenchError(f"thread read: HTTP {status} {raw[:300]!r}")
    return int(answer["thread"]["id"]), int(answer["thread"]["live_event_id"])


# ---- the run --------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    townhall = townhall_bin()
    workdir = Path(tempfile.mkdtemp(prefix="townhall-soak-"))
    ports = [free_port(), free_port()]
    bases = [f"http://127.0.0.1:{p}" for p in ports]
    env = environment(workdir, ports[0], args.page_memory_mb)
    run_id = datetime.now(UTC).strftime("%H%M%S")
    ledger = Ledger(run_id)
    procs: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []
    try:
        print(f"soak: fresh database {DATABASE}, Redis db 9, var in {workdir}", flush=True)
        source = {**source_state(), **fresh_stores()}
        prepare(townhall, env, workdir)
        for index, port in enumerate(ports):
            log = workdir / f"serve-{index + 1}.log"
            command = [str(townhall), "serve", "--host", "127.0.0.1", "--port", str(port)]
            procs.append(start_server(command, env, log, cwd=workdir))
            logs.append(log)
        log = workdir / "worker.log"
        procs.append(start_server([str(townhall), "worker"], env, log, cwd=workdir))
        logs.append(log)
        for proc, port, log in zip(procs, ports, logs, strict=False):
            wait_until_ready(f"http://127.0.0.1:{port}/healthz", proc, log)
        first_comments(bases[0], ledger)
        sessions = sign_in(bases[1], SIGNED_IN)
        moderator = Moderator(*MODERATOR)
        soak_load.moderator_login(ports[0], moderator)
        sites = [
            Site("soak", [thread_url("soak", n) for n in range(THREADS["soak"])], sso=True),
            Site("soakpre", [thread_url("soakpre", n) for n in range(THREADS["soakpre"])]),
        ]
        hot = sites[0].threads[:HOT_THREADS]
        for site in sites:
            for url in site.threads:
                ledger.thread_ids[url] = thread_state(bases[0], site.slug, url)[0]
        streams = []
        for url in hot:
            for server, port in enumerate(ports):
                began = time.monotonic()
                thread_id, last_id = thread_state(bases[server], "soak", url)
                stream = soak_load.EventStream(
                    len(streams), port, server, thread_id, url, args.streams_reconnect
                )
                stream.open(last_id, began)
                streams.append(stream)
        for stream in streams:
            if not stream.connected.wait(15):
                raise BenchError(f"event stream {stream.index} did not connect: {stream.errors}")
        load = Load(
            ports,
            sites,
            ledger,
            moderator,
            sessions,
            hot,
            args.concurrency,
            args.rate,
            READERS,
            FIRST_READER,
            args.seed,
        )
        samplers = [RssSampler(p.pid, interval=2.0) for p in procs]
        for sampler in samplers:
            sampler.__enter__()
        print(
            f"soak: {args.duration:.0f} s of load, {args.concurrency} workers, at most "
            f"{args.rate:g} requests/s, on {bases[0]} and {bases[1]}",
            flush=True,
        )
        started = time.monotonic()
        load.start()
        progress(load, started, args.duration)
        load.finish()
        ended = time.monotonic()
        time.sleep(EVENT_GRACE_S)
        for stream in streams:
            stream.finish()
        wait_for_worker(env)
        for sampler in samplers:
            sampler.__exit__(None, None, None)
        if args.self_check:
            break_a_count()
        checks = check_all(load, ledger, streams, samplers, started, ended, bases, logs)
        return assemble(args, load, ledger, streams, samplers, started, ended, checks, env, source)
    finally:
        for proc in procs:
            stop_server(proc)
        keep = os.environ.get("SOAK_KEEP_LOGS")
        if keep:
            print(f"logs kept in {workdir}")
        else:
            for log in logs:
                dest = RESULTS_DIR / "soak-logs" / log.name
                dest.parent.mkdir(parents=True, exist_ok=True)
                if log.exists():
                    shutil.copy(log, dest)
            shutil.rmtree(workdir, ignore_errors=True)


def progress(load: Load, started: float, duration: float) -> None:
    last = 0.0
    while (elapsed := time.monotonic() - started) < duration:
        time.sleep(min(1.0, duration - elapsed))
        if time.monotonic() - last >= 30:
            last = time.monotonic()
            total = sum(sum(c.values()) for c in load.stats.statuses.values())
            fives = sum(
                n for c in load.stats.statuses.values() for s, n in c.items() if s[0] == "5"
            )
            print(f"  {elapsed:5.0f} s: {total} requests, {fives} 5xx", flush=True)


def wait_for_worker(env: dict[str, str], timeout: float = 60.0) -> None:
    """Give the worker time to send what the load queued (checked by `check_worker`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not sql_one(
            "SELECT count(*) FROM django_tasks_database_dbtaskresult "
            "WHERE status IN ('READY', 'RUNNING') AND "
            "(run_after IS NULL OR run_after <= now())"
        )[0]:
            return
        time.sleep(1)


# ---- checks ---------------------------------------------------------------------------------


def sql(query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(DATABASE_URL.replace("postgres://", "postgresql://")) as conn:
        return list(conn.execute(query, params).fetchall())


def sql_one(query: str) -> tuple[Any, ...]:
    return sql(query)[0]


def break_a_count() -> None:
    """--self-check: one thread's stored count made wrong by hand, as a bug would."""
    thread_id = sql_one("SELECT min(id) FROM townhall_discussions_thread")[0]
    sql_exec(
        "UPDATE townhall_discussions_thread SET comment_count = comment_count + 1 WHERE id = %s",
        (thread_id,),
    )
    print(f"self-check: thread {thread_id}'s comment_count raised by one in the database")


def sql_exec(query: str, params: tuple[Any, ...]) -> None:
    import psycopg

    with psycopg.connect(DATABASE_URL.replace("postgres://", "postgresql://")) as conn:
        conn.execute(query, params)


def check(name: str, ok: bool, detail: str) -> dict[str, Any]:
    return {"name": name, "ok": bool(ok), "detail": detail}


def check_all(
    load: Load,
    ledger: Ledger,
    streams: list[soak_load.EventStream],
    samplers: list[RssSampler],
    started: float,
    ended: float,
    bases: list[str],
    logs: list[Path],
) -> list[dict[str, Any]]:
    return [
        check_no_5xx(load),
        check_comments(ledger),
        check_resent(ledger),
        check_statuses(ledger),
        check_thread_counts(),
        check_vote_counts(),
        check_votes_recorded(ledger),
        check_api_counts(bases, ledger),
        check_events(streams, ledger, ended),
        check_memory(samplers, started, ended),
        check_worker(),
        check_logs(logs),
    ]


def check_no_5xx(load: Load) -> dict[str, Any]:
    fives = Counter()
    for op, counts in load.stats.statuses.items():
        for status, n in counts.items():
            if status[0] == "5" or not status[0].isdigit():
                fives[f"{op} {status}"] += n
    detail = "none" if not fives else ", ".join(f"{k}: {v}" for k, v in fives.items())
    if load.stats.failures:
        detail += "; first: " + " | ".join(load.stats.failures[:3])
    return check("no 5xx, no transport or client errors", not fives, detail)


TOKEN = re.compile(r"soak-\d{6}-\d{7}")


def check_comments(ledger: Ledger) -> dict[str, Any]:
    """Every accepted comment is stored once: its id exists with the body the client last got
    accepted; no other row holds its token; no row holds a token the client was never answered
    for (posts whose answer never came may be there once or not at all)."""
    rows = sql("SELECT id, body, status, thread_id FROM townhall_discussions_comment")
    by_id = {r[0]: r for r in rows}
    tokens: Counter[str] = Counter()
    for row in rows:
        found = TOKEN.match(row[1] or "")
        if found:
            tokens[found.group(0)] += 1
    problems = []
    known = set()
    for comment in ledger.comments.values():
        known.add(comment.token)
        row = by_id.get(comment.id)
        if row is None:
            problems.append(f"comment {comment.id} ({comment.token}) is missing")
        elif comment.expected_status() == "deleted":
            if row[1]:
                problems.append(f"deleted comment {comment.id} still has a body")
        elif row[1] != comment.body:
            problems.append(f"comment {comment.id}: stored body differs from the accepted one")
        elif row[3] != ledger.thread_ids.get(comment.thread_url):
            problems.append(f"comment {comment.id} is in thread {row[3]}, not its own")
        if comment.expected_status() != "deleted" and tokens[comment.token] != 1:
            problems.append(f"{comment.token} is stored {tokens[comment.token]} times")
    unknown = set(ledger.unknown)
    for token, n in tokens.items():
        if token not in known and not (token in unknown and n == 1):
            problems.append(f"{token}: {n} stored rows the client was never told of")
    detail = (
        f"{len(ledger.comments)} accepted comments, {len(rows)} rows, "
        f"{len(unknown)} posts without an answer; "
        + ("all stored once" if not problems else "; ".join(problems[:5]))
    )
    return check("every accepted comment is in the database exactly once", not problems, detail)


def check_resent(ledger: Ledger) -> dict[str, Any]:
    """Posts sent again with their Idempotency-Key answered the comment stored first (a 429 is
    a refusal the client retries later); check_comments finds any second row they stored."""
    answered = Counter("2xx" if i is not None else str(st) for _, st, i in ledger.resent)
    wrong = [
        f"comment {cid}: answered {i if i is not None else st}"
        for cid, st, i in ledger.resent
        if (i is not None and i != cid) or (i is None and st != 429)
    ]
    ok = bool(ledger.resent) and not wrong
    detail = (
        f"{len(ledger.resent)} posts sent again: "
        + ", ".join(f"{k} {v}" for k, v in sorted(answered.items()))
        + ("; all answered the comment stored first" if not wrong else "; " + "; ".join(wrong[:5]))
    )
    return check(
        "a post sent again with its Idempotency-Key answers the comment stored first", ok, detail
    )


def check_statuses(ledger: Ledger) -> dict[str, Any]:
    rows = dict(sql("SELECT id, status FROM townhall_discussions_comment"))
    wrong = [
        f"{c.id}: {rows.get(c.id)} (expected {c.expected_status()})"
        for c in ledger.comments.values()
        if rows.get(c.id) != c.expected_status()
    ]
    changes = Counter(ch[0] for c in ledger.comments.values() for ch in c.changes)
    detail = (
        f"{len(ledger.comments)} comments; accepted changes: "
        + ", ".join(f"{k} {v}" for k, v in sorted(changes.items()))
        + ("" if not wrong else "; wrong: " + "; ".join(wrong[:5]))
    )
    return check("each comment's status is the last one the client was answered", not wrong, detail)


def check_thread_counts() -> dict[str, Any]:
    rows = sql(
        "SELECT t.id, t.comment_count, count(c.id) FILTER (WHERE c.status = 'visible') "
        "FROM townhall_discussions_thread t LEFT JOIN townhall_discussions_comment c "
        "ON c.thread_id = t.id GROUP BY t.id ORDER BY t.id"
    )
    wrong = [
        f"thread {t}: comment_count {stored}, visible rows {rows_}"
        for t, stored, rows_ in rows
        if stored != rows_
    ]
    detail = f"{len(rows)} threads" + ("; " + "; ".join(wrong[:5]) if wrong else ", all equal")
    return check("each thread's comment_count equals its visible rows", not wrong, detail)


def check_vote_counts() -> dict[str, Any]:
    rows = sql(
        "SELECT c.id, c.upvotes, c.downvotes, c.score, "
        "count(v.id) FILTER (WHERE v.value = 1), count(v.id) FILTER (WHERE v.value = -1) "
        "FROM townhall_discussions_comment c LEFT JOIN townhall_discussions_vote v "
        "ON v.comment_id = c.id GROUP BY c.id"
    )
    wrong = [
        f"comment {cid}: {up}/{down}/{score} stored, {vu}/{vd} vote rows"
        for cid, up, down, score, vu, vd in rows
        if (up, down, score) != (vu, vd, vu - vd)
    ]
    votes = sum(r[4] + r[5] for r in rows)
    detail = f"{len(rows)} comments, {votes} vote rows" + (
        "; " + "; ".join(wrong[:5]) if wrong else ", every tally equal"
    )
    return check("each comment's upvotes, downvotes, score equal its Vote rows", not wrong, detail)


def check_votes_recorded(ledger: Ledger) -> dict[str, Any]:
    """The Vote rows per comment equal the client's record: each reader's last accepted vote
    (readers never race themselves: each belongs to one load worker)."""
    expected: Counter[tuple[int, int]] = Counter()
    for (_reader, cid), value in ledger.votes.items():
        if value:
            expected[(cid, value)] += 1
    stored = Counter(
        {
            (cid, value): n
            for cid, value, n in sql(
                "SELECT comment_id, value, count(*) FROM townhall_discussions_vote "
                "GROUP BY comment_id, value"
            )
        }
    )
    wrong = [
        f"comment {k[0]} value {k[1]:+d}: {stored[k]} rows, {expected[k]} expected"
        for k in set(stored) | set(expected)
        if stored[k] != expected[k]
    ]
    detail = f"{sum(expected.values())} votes standing" + (
        "; " + "; ".join(wrong[:5]) if wrong else ", all as the client recorded"
    )
    return check("the Vote rows are the votes the client was answered 200 for", not wrong, detail)


def check_api_counts(bases: list[str], ledger: Ledger) -> dict[str, Any]:
    """After the load, each server's thread page and counts answer the database's counts (so
    no process serves a stale cached page or count)."""
    stored = dict(sql("SELECT id, comment_count FROM townhall_discussions_thread"))
    wrong = []
    for server, base in enumerate(bases):
        for slug, count in THREADS.items():
            urls = [thread_url(slug, n) for n in range(count)]
            query = urllib.parse.urlencode([("site", slug), *(("url", u) for u in urls)])
            _status, answer, _raw = http_json("GET", f"{base}/api/v1/counts?{query}")
            for url in urls:
                want = stored[ledger.thread_ids[url]]
                page = urllib.parse.urlencode({"site": slug, "url": url})
                _s, thread, _r = http_json("GET", f"{base}/api/v1/threads?{page}")
                got = (thread or {}).get("thread", {}).get("comment_count")
                counted = (answer or {}).get("counts", {}).get(url)
                if got != want or counted != want:
                    wrong.append(
                        f"server {server + 1} {url}: page {got}, counts {counted}, database {want}"
                    )
    detail = f"{len(stored)} threads on {len(bases)} servers" + (
        "; " + "; ".join(wrong[:5]) if wrong else ": pages and counts equal the database"
    )
    return check(
        "each server's thread pages and counts answer the stored counts", not wrong, detail
    )


def check_events(
    streams: list[soak_load.EventStream], ledger: Ledger, ended: float
) -> dict[str, Any]:
    """Each stream got, as a `comment` event, every comment of its thread that became visible
    while it was open: posted with 201, or approved, by a request sent after the stream's
    first thread read and answered before the load ended. No event id came twice, and ids
    increased."""
    problems = []
    total = cross = 0
    per_stream = []
    for stream in streams:
        got = {cid for _eid, kind, cid, _n, _t in stream.events if kind == "comment"}
        ids = [eid for eid, *_ in stream.events]
        if len(ids) != len(set(ids)):
            problems.append(f"stream {stream.index}: {len(ids) - len(set(ids))} repeated events")
        if ids != sorted(ids):
            problems.append(f"stream {stream.index}: event ids out of order")
        expected = {}
        for comment in ledger.comments.values():
            if comment.thread_url != stream.thread_url:
                continue
            if (
                comment.status == "visible"
                and stream.began <= comment.sent
                and comment.answered <= ended
            ):
                expected[comment.id] = comment.server
            for action, _status, sent, answered in comment.changes:
                if action == "approve" and stream.began <= sent and answered <= ended:
                    expected[comment.id] = -1
        missing = sorted(set(expected) - got)
        total += len(expected)
        cross += sum(
            1 for cid, s in expected.items() if s >= 0 and s != stream.server and cid in got
        )
        if missing:
            problems.append(
                f"stream {stream.index} (server {stream.server + 1}): "
                f"{len(missing)} missing, e.g. {missing[:5]}"
            )
        per_stream.append(
            {
                "server": stream.server + 1,
                "thread": stream.thread_id,
                "events": len(stream.events),
                "comment_events": len(got),
                "expected": len(expected),
                "missing": len(missing),
                "connections": stream.connections,
                "statuses": dict(stream.statuses),
                "errors": stream.errors[:3],
            }
        )
    if not cross:
        problems.append("no comment posted through one server reached a stream on the other")
    detail = (
        f"{len(streams)} streams, {sum(s['connections'] for s in per_stream)} connections; "
        f"{total} expected deliveries, of which {cross} crossed servers through Redis; "
        + ("all delivered" if not problems else "; ".join(problems[:5]))
    )
    result = check(
        "event streams got every comment that became visible while open", not problems, detail
    )
    result["streams"] = per_stream
    return result


def group_series(sampler: RssSampler) -> list[tuple[float, float]]:
    """(time, MiB summed over the group's processes) per sample sweep."""
    sums: dict[float, int] = {}
    for samples in sampler.samples.values():
        for t, kib in samples:
            sums[t] = sums.get(t, 0) + kib
    return sorted((t, kib / 1024) for t, kib in sums.items())


MEMORY_NAMES = ["server 1", "server 2", "worker"]


def check_memory(samplers: list[RssSampler], started: float, ended: float) -> dict[str, Any]:
    """After the warm-up (the first 20% of the load), the median RSS of the last quarter of the
    load is at most 10% (or 8 MiB) above the median of the second quarter."""
    span = ended - started
    problems = []
    curves = []
    for name, sampler in zip(MEMORY_NAMES, samplers, strict=True):
        series = [(t - started, mib) for t, mib in group_series(sampler)]

        def median(lo: float, hi: float, series: list[tuple[float, float]] = series) -> float:
            values = [m for t, m in series if lo * span <= t <= hi * span]
            return statistics.median(values) if values else float("nan")

        second, last = median(0.25, 0.5), median(0.75, 1.0)
        after = [(t, m) for t, m in series if WARMUP_SHARE * span <= t <= span]
        slope = 0.0
        if len(after) >= 3:
            slope = statistics.linear_regression([t for t, _ in after], [m for _, m in after]).slope
        growth = last - second
        ok = growth <= max(MEMORY_GROWTH_LIMIT * second, MEMORY_SLACK_MIB)
        if not ok:
            problems.append(f"{name}: +{growth:.1f} MiB ({growth / second:.0%})")
        tenths = [round(median(i / 10, (i + 1) / 10), 1) for i in range(10)]
        curves.append(
            {
                "name": name,
                "processes": len(sampler.samples),
                "start_mib": round(series[0][1], 1) if series else None,
                "warm_mib": round(median(0.15, 0.25), 1),
                "second_quarter_mib": round(second, 1),
                "last_quarter_mib": round(last, 1),
                "end_mib": round(series[-1][1], 1) if series else None,
                "slope_mib_per_min": round(slope * 60, 2),
                "tenths_mib": tenths,
                "ok": ok,
            }
        )
    detail = "; ".join(
        f"{c['name']}: {c['second_quarter_mib']} → {c['last_quarter_mib']} MiB "
        f"({c['slope_mib_per_min']:+.2f} MiB/min)"
        for c in curves
    )
    result = check(
        "memory is flat (last quarter ≤ second quarter + max(10%, 8 MiB))", not problems, detail
    )
    result["curves"] = curves
    return result


def check_worker() -> dict[str, Any]:
    rows = dict(
        sql("SELECT status, count(*) FROM django_tasks_database_dbtaskresult GROUP BY status")
    )
    due = sql_one(
        "SELECT count(*) FROM django_tasks_database_dbtaskresult WHERE status = "
        "'READY' AND (run_after IS NULL OR run_after <= now())"
    )[0]
    failed = rows.get("FAILED", 0)
    detail = ", ".join(f"{k.lower()} {v}" for k, v in sorted(rows.items())) or "no tasks"
    return check(
        "the worker ran every due task, none failed",
        not failed and not due,
        detail + f"; due and not run: {due}",
    )


def check_logs(logs: list[Path]) -> dict[str, Any]:
    found = []
    for log in logs:
        text = log.read_text(errors="replace") if log.exists() else ""
        tracebacks = text.count("Traceback (most recent call last)")
        errors = len(re.findall(r"^\S+ \S+ (ERROR|CRITICAL) |\[(ERROR|CRITICAL)\]", text, re.M))
        if tracebacks or errors:
            found.append(
                f"{log.name}: {tracebacks} tracebacks, {errors} ERROR lines "
                f"(last lines: {log_tail(log, 8)!r})"
            )
    return check(
        "no traceback or ERROR line in the server and worker logs",
        not found,
        "; ".join(found) or "clean",
    )


# ---- results --------------------------------------------------------------------------------


def percentile(ordered: list[float], p: float) -> float:
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else 0.0


def assemble(
    args, load, ledger, streams, samplers, started, ended, checks, env, source
) -> dict[str, Any]:
    seconds = ended - started
    ops = {}
    for op in sorted(load.stats.statuses):
        lat = sorted(load.stats.latencies[op])
        n = sum(load.stats.statuses[op].values())
        ops[op] = {
            "requests": n,
            "per_second": round(n / seconds, 2),
            "statuses": dict(sorted(load.stats.statuses[op].items())),
            "error_codes": dict(load.stats.codes[op]),
            "kinds": dict(load.stats.kinds[op]),
            "p50_ms": round(percentile(lat, 50), 1),
            "p95_ms": round(percentile(lat, 95), 1),
            "p99_ms": round(percentile(lat, 99), 1),
            "max_ms": round(lat[-1], 1) if lat else 0.0,
        }
    machine = report.machine()
    return {
        "benchmark": BENCH_KEY,
        "source": source,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "make soak" + (f" SOAK_MINUTES={args.minutes:g}" if not args.seconds else ""),
        "argv": sys.argv[1:],
        "trial": args.trial,
        "machine": machine,
        "duration_s": round(seconds, 1),
        "concurrency": args.concurrency,
        "rate_cap": args.rate,
        "streams_reconnect_s": args.streams_reconnect,
        "page_memory_mb": args.page_memory_mb,
        "readers": READERS,
        "signed_in": SIGNED_IN,
        "threads": THREADS,
        "ops": ops,
        "total_requests": sum(o["requests"] for o in ops.values()),
        "statuses": dict(sum((Counter(o["statuses"]) for o in ops.values()), Counter())),
        "comments_accepted": len(ledger.comments),
        "checks": checks,
        "failures": load.stats.failures,
        "self_check": args.self_check,
    }


def status_text(statuses: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v:,}" for k, v in sorted(statuses.items()))


def text_summary(result: dict[str, Any]) -> str:
    headers = ["operation", "requests", "/s", "p50 ms", "p95 ms", "p99 ms", "statuses"]
    rows = [
        [
            op,
            f"{o['requests']:,}",
            f"{o['per_second']:.2f}",
            f"{o['p50_ms']:.1f}",
            f"{o['p95_ms']:.1f}",
            f"{o['p99_ms']:.1f}",
            status_text(o["statuses"]),
        ]
        for op, o in result["ops"].items()
    ]
    lines = [report.text_table(headers, rows), ""]
    for c in result["checks"]:
        lines.append(f"{'PASS' if c['ok'] else 'FAIL'}  {c['name']}: {c['detail']}")
    return "\n".join(lines)


def section_markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    source = result["source"]
    edited = source["townhall_changes"]
    changes = f", with uncommitted changes to {', '.join(edited)}" if edited else ""
    passed = all(c["ok"] for c in result["checks"])
    trial = (
        "\n> **Trial run** of "
        f"{result['duration_s'] / 60:.1f} minute(s), made while developing the harness on a "
        "machine shared with other work; to be replaced by the figures of the full 10-minute "
        "run (`make soak`).\n"
        if result.get("trial")
        else ""
    )
    op_rows = [
        [
            f"`{op}`",
            f"{o['requests']:,}",
            f"{o['per_second']:.2f}",
            f"{o['p50_ms']:.1f}",
            f"{o['p95_ms']:.1f}",
            f"{o['p99_ms']:.1f}",
            status_text(o["statuses"]),
            ", ".join(f"{k} {v}" for k, v in sorted({**o["kinds"]}.items())),
        ]
        for op, o in result["ops"].items()
    ]
    codes = [
        f"- `{op}`: " + ", ".join(f"{k} x{v}" for k, v in sorted(o["error_codes"].items()))
        for op, o in result["ops"].items()
        if o["error_codes"]
    ]
    memory = next(c for c in result["checks"] if "curves" in c)["curves"]
    mem_rows = [
        [
            c["name"],
            str(c["processes"]),
            f"{c['start_mib']}",
            f"{c['warm_mib']}",
            f"{c['end_mib']}",
            f"{c['slope_mib_per_min']:+.2f}",
            " ".join(f"{v:.0f}" for v in c["tenths_mib"]),
            "pass" if c["ok"] else "FAIL",
        ]
        for c in memory
    ]
    events = next(c for c in result["checks"] if "streams" in c)["streams"]
    event_rows = [
        [
            str(s["server"]),
            str(s["thread"]),
            str(s["connections"]),
            f"{s['events']:,}",
            f"{s['comment_events']:,}",
            f"{s['expected']:,}",
            str(s["missing"]),
        ]
        for s in events
    ]
    check_rows = [
        ["pass" if c["ok"] else "**FAIL**", c["name"], c["detail"]] for c in result["checks"]
    ]
    per_second = result["total_requests"] / result["duration_s"]
    op_table = report.table(
        ["Operation", "Requests", "/s", "p50 ms", "p95 ms", "p99 ms", "Statuses", "Kinds"], op_rows
    )
    mem_headers = ["Process group", "Processes", "Start", "Warm (15-25%)", "End"]
    mem_headers += ["Slope MiB/min", "Median per tenth of the run", "Flat?"]
    mem_table = report.table(mem_headers, mem_rows)
    event_table = report.table(
        ["Server", "Thread", "Connections", "Events", "Comment events", "Expected", "Missing"],
        event_rows,
    )
    check_table = report.table(["Result", "Check", "Detail"], check_rows, text_columns=3)
    return f"""
## Soak: mixed traffic on PostgreSQL and Redis, two servers and a worker
{trial}
- **Date**: {result["date"]}
- **Machine**: {m["cpu"]}, {m["cores"]} cores, {m["ram_gib"]} GiB RAM, {m["os"]}, kernel \
{m["kernel"]}; the load client, both servers, the worker, PostgreSQL and Redis all on it
- **Software**: Townhall at commit {source["commit"]}{changes}; PostgreSQL {source["postgres"]}, \
Redis {source["redis"]}
- **Duration**: {result["duration_s"]:.0f} s of load; {result["concurrency"]} load workers,
  at most {result["rate_cap"]:g} requests/s in all
- **Result**: {"every check passed" if passed else "**some checks FAILED**"}

### Command

```sh
{result["command"]}
```

(`python bench/soak.py {" ".join(result["argv"])}` in the project's virtualenv;
`make soak SOAK_MINUTES=1` for a short run.)

### What it does

- A fresh PostgreSQL database `{DATABASE}` (dropped and created again), Redis database 9
  (flushed), a temporary `TOWNHALL_VAR_DIR`; `townhall migrate`; two sites: `soak`
  (post-moderation, the suspect word "soakhold" and `max_links` 1 hold comments, guest and SSO
  sign-in) and `soakpre` (pre-moderation: every comment waits; a moderator email on each);
  one moderator for both (`townhall moderator add`); {result["threads"]["soak"]} +
  {result["threads"]["soakpre"]} threads, each opened by a first comment.
- Two `townhall serve` processes on two ports (one Granian worker each), the same database and
  Redis, and one `townhall worker` (email written to files).
- Rate limits on. Readers are {result["readers"]:,} addresses in `X-Forwarded-For`, believed
  from 127.0.0.1 (`TOWNHALL_TRUSTED_PROXIES`), split between the load workers so that one
  reader never races itself; {result["signed_in"]} SSO-signed-in readers; two "hot" readers
  post past the limits on purpose (their `429`s are expected; `429` is never an error here).
- The load client (`bench/soak_load.py`, standard library, threads, keep-alive connections,
  127.0.0.1 only): each request to one server or the other at random. Operations and their
  weights are `WEIGHTS` there: thread pages by each sort, revalidations with `If-None-Match`,
  replies, counts, the server-rendered page; new comments and replies (guests, returning guests
  with their edit token, signed-in readers; some with an email and `notify_replies`; 30% of
  them on the three watched threads; each with an `Idempotency-Key`, one in twenty sent again);
  votes (up, down, change, undo); subscriptions; edits and
  deletions of one's own comments; moderators' decisions through the moderators' pages
  (`POST /moderate/SITE/comments/ID/decide/`, session and CSRF, JSON answer): approve, reject
  or spam a waiting comment, or reject a visible one.
- Six live event streams: each of the three watched threads on both servers; each stream closes
  its connection every ~{result["streams_reconnect_s"]:g} s (±30%) and opens it again with
  `Last-Event-ID`.
- Memory: VmRSS of every process of each server (Granian's main process and its worker) and of
  the worker, summed per group, every 2 s. The servers run with
  `TOWNHALL_PAGE_MEMORY_MB={result["page_memory_mb"]}` (Townhall's default is 64): each process
  keeps built thread pages in an LRU of that size, and as every write makes new pages, at this
  load the cache grows a process by several MiB a minute until it is full. A small cap fills
  during the warm-up, so that what the memory check sees after it is growth beyond a bounded
  cache.

### Requests

{result["total_requests"]:,} requests in all ({per_second:.1f}/s);
statuses: {status_text(result["statuses"])}. Latency is measured by the client, from sending to
the whole answer, with the machine's two cores shared by everything above.

{op_table}

4xx answers by error code:

{chr(10).join(codes) or "- none"}

### Memory (MiB, RSS summed over each group's processes)

{mem_table}

### Event streams

{event_table}

### Checks

{check_table}

What each check verifies:

- **no 5xx**: every answer of every operation is counted by status; any 5xx, any transport
  error (reset, timeout) or client-side exception fails the run.
- **exactly once**: every comment body starts with a token unique in the run. For every 2xx
  post (and every 2xx edit), the client keeps the id and body; in PostgreSQL each id exists with
  that body in its thread, each token is in exactly one row, and no row holds a token the client
  was not answered for (a post whose answer never came may be there once, or not).
- **sent again**: one accepted post in twenty is sent again at once, with its
  `Idempotency-Key`, to either server (a client that never got the first answer): each answer
  names the comment stored first (or is a `429`), and the exactly-once check above finds no
  second row.
- **statuses**: each comment's status is the last one the client was answered (201 visible,
  202 pending, then approve/reject/spam, edit, delete; each comment gets at most one such
  change, so the order is known).
- **thread counts**: each thread's `comment_count` equals its rows with status visible.
- **vote tallies**: each comment's `upvotes`, `downvotes` and `score` equal its Vote rows.
- **votes recorded**: the Vote rows per comment and value equal each reader's last vote the
  client was answered 200 for.
- **pages and counts**: after the load, each server's thread page and `/api/v1/counts` answer
  the stored count of every thread (no stale cache in either process).
- **events**: each stream got a `comment` event for every comment of its thread that became
  visible (posted with 201, or approved) by a request sent after the stream's first thread
  read and answered before the load ended (the streams run {EVENT_GRACE_S:.0f} s longer), through
  reconnections; no event id twice; ids in order; at least one comment crossed servers.
- **memory flat**: after a warm-up (the first 20%), the median of the last quarter of the load
  is at most max(10%, {MEMORY_SLACK_MIB:.0f} MiB) above the median of the second quarter, per group.
- **worker**: no email task failed, none due is left unrun ({60} s allowed after the load).
- **logs**: no traceback and no ERROR line in the logs of both servers and the worker.
"""


def write_docs(path: Path, result: dict[str, Any]) -> None:
    if not path.exists():
        path.write_text(DOC_HEADER)
    report.upsert_section(path, BENCH_KEY, section_markdown(result))


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.from_json:
        result = json.loads(args.from_json.read_text())
    else:
        try:
            result = run(args)
        except BenchError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        RESULTS_DIR.mkdir(exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        out = RESULTS_DIR / f"soak-{stamp}.json"
        out.write_text(json.dumps(result, indent=2))
        print(f"\nraw results: {out}")
    print(text_summary(result))
    if not args.no_docs and not result.get("self_check"):
        write_docs(args.docs, result)
        print(f"report updated: {args.docs}")
    failed = [c["name"] for c in result["checks"] if not c["ok"]]
    if failed:
        print("\nSOAK FAILED: " + "; ".join(failed), file=sys.stderr)
        return 1
    print("\nsoak passed: every check")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
