"""Townhall's side of the big-thread benchmark (bench/big_thread.py), run in the project's Python.

bench/big_thread.py runs this file with the project's virtualenv
(`.venv/bin/python -P bench/big_thread_app.py COMMAND`) in the temporary
directory and environment of a fresh SQLite database (TOWNHALL_VAR_DIR,
TOWNHALL_DATABASE_URL, TOWNHALL_RATELIMIT=0, ...). Each command prints one
JSON object as the last line of its standard output:

  seed    two threads of the `bench` site, through the real actions
          (`do_post_comment`, then `do_vote_comment`), in this process:
          BIG_COMMENTS comments and BIG_VOTES votes under one article,
          SMALL_COMMENTS and SMALL_VOTES under another (SEED). Roots and
          replies interleave as in a live discussion: a reply goes to a root
          chosen in proportion to the replies it already has (the busiest
          subthreads draw more), among the latest roots, or at random, then
          to that root or one of its recent replies, so subthreads nest;
          votes go mostly to the roots with the most replies. Prints the
          time it took and the shape of both threads
  cold LIMIT...
          the first page of each thread (each `limit` given: the widget's
          first request and the API's default page) by each sort, built again
          for every request: both page caches (this process's and Django's)
          cleared before each `GET /api/v1/threads` through Django's WSGI
          application (what a reader pays after each new comment); p50 and
          p99 per build, comments and bytes per page, SQLite's share; then
          the slowest of those builds again under cProfile, and SQLite's
          plan for each query of a build

`-P` keeps bench/ off sys.path, so no harness module shadows anything Django imports;
bench/corpus.py is loaded from its path for the comment texts.
"""

from __future__ import annotations

import cProfile
import gc
import importlib.util
import io
import json
import os
import pstats
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

SITE = "bench"  # created by `townhall createsite` (bench/townhall_peer.py prepare)
ORIGIN = "http://127.0.0.1:9999"
BIG_URL = f"{ORIGIN}/news/big-story"
SMALL_URL = f"{ORIGIN}/news/small-story"
SEED = 10_000
BIG_COMMENTS = 10_000
BIG_VOTES = 4_000
SMALL_COMMENTS = 20
SMALL_VOTES = 12
ROOT_SHARE = 0.35  # of comments, top-level
READERS = 2_500  # who write the comments; each reader from a client of their own
RECENT_ROOTS = 100
UP_SHARE = 0.8
SORTS = ("newest", "oldest", "most_voted")
MIN_BUILDS, MAX_BUILDS, BUILD_SECONDS = 30, 300, 2.0  # per thread and sort
PROFILE_BUILDS = 20


def load_corpus() -> Any:
    """bench/corpus.py, for its comment texts, without putting bench/ on sys.path."""
    path = Path(__file__).resolve().parent / "corpus.py"
    spec = importlib.util.spec_from_file_location("bench_corpus", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "townhall.config.settings")
    import django

    django.setup()


# ---- seed -------------------------------------------------------------------------------------


class Discussion:
    """Who replies to what, as comments arrive: roots, subthreads that grow as they draw
    replies, and replies to replies."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.roots: list[int] = []
        self.replies: list[tuple[int, int]] = []  # (reply id, its root id)
        self.subthread: dict[int, list[int]] = {}  # root id -> its replies' ids, in order

    def parent(self) -> int | None:
        """The comment the next reply answers, or None for a new root."""
        rng = self.rng
        if not self.roots or rng.random() < ROOT_SHARE:
            return None
        roll = rng.random()
        if roll < 0.5 and self.replies:
            root = rng.choice(self.replies)[1]  # in proportion to the replies it has
        elif roll < 0.8:
            root = rng.choice(self.roots[-RECENT_ROOTS:])
        else:
            root = rng.choice(self.roots)
        below = self.subthread[root]
        if not below or rng.random() < 0.45:
            return root
        return rng.choice(below[-8:]) if rng.random() < 0.7 else rng.choice(below)

    def add(self, comment_id: int, parent: int | None, root: int | None) -> None:
        if parent is None:
            self.roots.append(comment_id)
            self.subthread[comment_id] = []
        else:
            assert root is not None
            self.replies.append((comment_id, root))
            self.subthread[root].append(comment_id)


def seed_thread(site: Any, url: str, comments: int, votes: int, rng: random.Random) -> dict:
    """Post `comments` comments and `votes` votes through the real actions; their shape."""
    from townhall.core.errors import TownhallError
    from townhall.discussions.actions import do_post_comment, do_vote_comment
    from townhall.discussions.models import Comment, CommentStatus

    corpus = load_corpus()
    discussion = Discussion(rng)
    clients = [f"{rng.getrandbits(128):032x}" for _ in range(READERS)]
    refused: Counter[str] = Counter()
    began = time.perf_counter()
    for _ in range(comments):
        parent = discussion.parent()
        author, email = corpus._author(rng)
        try:
            posted = do_post_comment(
                site,
                url=url,
                title="A story everyone comments on",
                body=corpus._body(rng, is_reply=parent is not None),
                parent_id=parent,
                author_name=author,
                author_email=email,
                client_fingerprint=rng.choice(clients),
            )
        except TownhallError as error:  # e.g. a reply to a comment held for moderation
            refused[error.code] += 1
            continue
        comment = posted.comment
        if comment.status == CommentStatus.VISIBLE:
            discussion.add(comment.pk, parent, comment.root_id)
    posting_s = time.perf_counter() - began

    # Votes: mostly on roots, the more replies a root drew the more votes it gets.
    ids = [*discussion.roots, *(reply for reply, _root in discussion.replies)]
    weight = {root: (1 + len(discussion.subthread[root])) ** 0.8 for root in discussion.roots}
    weights = [weight.get(i, 0.3) * rng.lognormvariate(0, 1) for i in ids]
    began = time.perf_counter()
    chosen = rng.choices(ids, weights=weights, k=votes)
    comments_by_id = Comment.objects.select_related("thread__site").in_bulk(set(chosen))
    for n, comment_id in enumerate(chosen):
        value = 1 if rng.random() < UP_SHARE else -1
        # do_vote_comment locks and reads the comment again; this copy names it and its thread.
        do_vote_comment(comments_by_id[comment_id], voter_key=f"a:{url[-5:]}-{n}", value=value)
    voting_s = time.perf_counter() - began

    replies = [len(discussion.subthread[r]) for r in discussion.roots]
    rows = Comment.objects.filter(thread__url=url)
    return {
        "url": url,
        "comments": rows.count(),
        "visible": rows.filter(status=CommentStatus.VISIBLE).count(),
        "statuses": dict(Counter(rows.values_list("status", flat=True))),
        "roots": rows.filter(depth=0).count(),
        "max_depth": max(rows.values_list("depth", flat=True)),
        "votes": votes,
        "replies_per_root_max": max(replies),
        "replies_per_root_top10": sorted(replies, reverse=True)[:10],
        "refused": dict(refused),
        "posting_s": round(posting_s, 1),
        "voting_s": round(voting_s, 1),
    }


def seed_command() -> dict[str, Any]:
    from townhall.moderation import toxicity
    from townhall.sites.models import Site

    site = Site.objects.get(slug=SITE)
    began = time.perf_counter()
    toxicity.model()  # compiled once, as the server would on its first post
    table_s = time.perf_counter() - began
    rng = random.Random(SEED)
    big = seed_thread(site, BIG_URL, BIG_COMMENTS, BIG_VOTES, rng)
    small = seed_thread(site, SMALL_URL, SMALL_COMMENTS, SMALL_VOTES, rng)
    return {
        "seed": SEED,
        "toxicity_table_s": round(table_s, 1),
        "seconds": round(time.perf_counter() - began, 1),
        "threads": {"big": big, "small": small},
    }


# ---- cold builds ------------------------------------------------------------------------------


def read_path(url: str, sort: str, limit: int) -> str:
    return "/api/v1/threads?" + urlencode({"site": SITE, "url": url, "sort": sort, "limit": limit})


def wsgi_get(app: Callable[..., Any], path_qs: str) -> tuple[int, bytes]:
    """One GET through the WSGI application, as Granian and a2wsgi hand it to Django."""
    path, _, query = path_qs.partition("?")
    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    status: list[str] = []
    chunks = app(environ, lambda s, _headers, _exc=None: status.append(s))
    try:
        body = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close:
            close()
    return int(status[0].split()[0]), body


def clear_page_caches() -> None:
    """Forget every built page: this process's copies and Django's cache (locmem here)."""
    from django.core.cache import cache

    from townhall.discussions import pages

    pages.local_pages.clear()
    cache.clear()


def count_comments(nodes: list[dict[str, Any]]) -> int:
    return sum(1 + count_comments(node.get("replies") or []) for node in nodes)


def builds(app: Callable[..., Any], path_qs: str) -> dict[str, Any]:
    """Build the page again and again (caches cleared before each), each request timed."""
    from django.db import connection

    sql = {"seconds": 0.0, "statements": 0}

    def wrapper(execute: Any, query: str, params: Any, many: bool, context: Any) -> Any:
        began = time.perf_counter()
        try:
            return execute(query, params, many, context)
        finally:
            sql["seconds"] += time.perf_counter() - began
            sql["statements"] += 1

    clear_page_caches()
    status, body = wsgi_get(app, path_qs)  # unmeasured: connections and code warm
    if status != 200:
        raise SystemExit(f"GET {path_qs} answered {status}: {body[:300]!r}")
    page = json.loads(body)
    times: list[float] = []
    gc.collect()
    started = time.perf_counter()
    with connection.execute_wrapper(wrapper):
        while len(times) < MAX_BUILDS and (
            len(times) < MIN_BUILDS or time.perf_counter() - started < BUILD_SECONDS
        ):
            clear_page_caches()
            began = time.perf_counter()
            status, _ = wsgi_get(app, path_qs)
            times.append(time.perf_counter() - began)
            assert status == 200
    ms = sorted(t * 1000 for t in times)
    return {
        "path": path_qs,
        "builds": len(times),
        "p50_ms": statistics.median(ms),
        "p99_ms": statistics.quantiles(ms, n=100, method="inclusive")[98],
        "mean_ms": statistics.fmean(ms),
        "sql_ms": sql["seconds"] / len(times) * 1000,
        "statements": sql["statements"] / len(times),
        "comments": count_comments(page["comments"]),
        "roots": len(page["comments"]),
        "bytes": len(body),
        "thread_comments": page["thread"]["comment_count"],
    }


def query_plans(app: Callable[..., Any], path_qs: str) -> list[dict[str, Any]]:
    """Every statement of one build, with SQLite's plan for it."""
    from django.db import connection

    seen: list[tuple[str, Any]] = []

    def wrapper(execute: Any, query: str, params: Any, many: bool, context: Any) -> Any:
        seen.append((query, params))
        return execute(query, params, many, context)

    clear_page_caches()
    with connection.execute_wrapper(wrapper):
        wsgi_get(app, path_qs)
    plans = []
    with connection.cursor() as cursor:
        for query, params in seen:
            if not query.lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute(f"EXPLAIN QUERY PLAN {query}", params)
            plans.append({"sql": query, "plan": [row[-1] for row in cursor.fetchall()]})
    return plans


def profile(app: Callable[..., Any], path_qs: str, top: int = 15) -> dict[str, Any]:
    """PROFILE_BUILDS builds under cProfile: the functions with the most time of their own, and
    Townhall's own functions by cumulative time."""
    profiler = cProfile.Profile()
    for _ in range(PROFILE_BUILDS):
        clear_page_caches()
        profiler.enable()
        wsgi_get(app, path_qs)
        profiler.disable()
    raw: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]

    def label(key: tuple[str, int, str]) -> str:
        filename, _line, function = key
        if filename == "~":
            return function
        parts = Path(filename).parts
        for root in ("townhall", "django", "ninja", "orjson"):
            if root in parts:
                return "/".join(parts[parts.index(root) :]) + f":{function}"
        return f"{Path(filename).name}:{function}"

    def rows(items: list[tuple[Any, Any]]) -> list[dict[str, Any]]:
        return [
            {
                "function": label(key),
                "calls": value[1] / PROFILE_BUILDS,
                "own_ms": value[2] / PROFILE_BUILDS * 1000,
                "cumulative_ms": value[3] / PROFILE_BUILDS * 1000,
            }
            for key, value in items
        ]

    townhall = [item for item in raw.items() if f"townhall{os.sep}" in item[0][0]]
    return {
        "by_own_time": rows(sorted(raw.items(), key=lambda item: -item[1][2])[:top]),
        "townhall": rows(sorted(townhall, key=lambda item: -item[1][3])[:top]),
    }


def cold_command(*limits: str) -> dict[str, Any]:
    from townhall.config.wsgi import application

    results = []
    for limit in map(int, limits):
        for sort in SORTS:
            for thread, url in (("small", SMALL_URL), ("big", BIG_URL)):
                measured = builds(application, read_path(url, sort, limit))
                results.append({"limit": limit, "sort": sort, "thread": thread, **measured})
    slowest = max(results, key=lambda r: r["p50_ms"])
    return {
        "results": results,
        "profiled": {k: slowest[k] for k in ("limit", "sort", "thread")},
        "profile": profile(application, slowest["path"]),
        "plans": {
            sort: query_plans(application, read_path(BIG_URL, sort, slowest["limit"]))
            for sort in SORTS
        },
    }


COMMANDS: dict[str, Callable[..., dict[str, Any]]] = {"seed": seed_command, "cold": cold_command}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        raise SystemExit(f"usage: big_thread_app.py {{{','.join(COMMANDS)}}} [LIMIT ...]")
    django_setup()
    print(json.dumps(COMMANDS[argv[0]](*argv[1:])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
