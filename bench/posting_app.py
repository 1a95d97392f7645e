"""Townhall's side of the posting benchmark (bench/posting.py), run in the project's Python.

bench/posting.py runs this file with the project's virtualenv
(`.venv/bin/python -P bench/posting_app.py COMMAND ...`) in the temporary
directory and environment of the Townhall it serves (TOWNHALL_VAR_DIR,
TOWNHALL_DATABASE_URL, TOWNHALL_RATELIMIT=0, ...). Each command prints one
JSON object as the last line of its standard output:

  rules FILE       give the `bench` site the moderation rules in FILE (JSON:
                   banned and suspect words, max_links, toxicity threshold),
                   with no Akismet key, and compile the toxicity table if it
                   is not compiled yet (`townhall serve` would compile it on
                   the first post, in a child process)
  outcomes FIRST   what became of the comments with id >= FIRST: by status,
                   by the rules that fired, how many the classifier scored
  profile FILE N   where a post's time goes, in this one process and thread:
                   the first N posts of FILE (lines "address<TAB>JSON", as
                   wrk sends them) through Django's WSGI application, the
                   handler `townhall serve` runs Django with, after 50
                   unmeasured: time per request, in `do_post_comment`, in
                   `run_pipeline` (of which the classifier), in Markdown,
                   and SQLite's execution time by statement; then the next N
                   under cProfile (own and cumulative time per function)

`-P` keeps bench/ off sys.path, so no harness module shadows anything Django imports.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import json
import os
import pstats
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SITE = "bench"  # created by `townhall createsite` (bench/townhall_peer.py prepare)
PATH = "/api/v1/comments"
ORIGIN = "http://127.0.0.1:9999"
WARMUP = 50
TOP = 25


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "townhall.config.settings")
    import django

    django.setup()


def rules_command(path: str) -> dict[str, Any]:
    from townhall.moderation import toxicity
    from townhall.sites.actions import do_set_moderation_rules
    from townhall.sites.models import Site

    rules = json.loads(Path(path).read_text())
    site = do_set_moderation_rules(Site.objects.get(slug=SITE), **rules, akismet_key="")
    began = time.perf_counter()
    compiled = not toxicity.model_path().exists()
    toxicity.model()
    return {
        "banned_words": len(site.banned_words),
        "suspect_words": len(site.suspect_words),
        "max_links": site.max_links,
        "toxicity_threshold": site.toxicity_threshold,
        "moderation_mode": site.moderation_mode,
        "akismet": bool(site.akismet_key),
        "table_compiled_here": compiled,
        "table_seconds": round(time.perf_counter() - began, 2),
    }


def outcomes_command(first: str) -> dict[str, Any]:
    from townhall.discussions.models import Comment

    rows = list(Comment.objects.filter(pk__gte=int(first)).values_list("status", "moderation"))
    return {
        "comments": len(rows),
        "statuses": dict(Counter(status for status, _ in rows)),
        "rules": dict(
            Counter(
                reason["rule"]
                for _, moderation in rows
                for reason in (moderation or {}).get("reasons", [])
            )
        ),
        "scored": sum((moderation or {}).get("toxicity") is not None for _, moderation in rows),
    }


def read_posts(path: str) -> list[tuple[str, bytes]]:
    posts = []
    for line in Path(path).read_text().splitlines():
        address, _, body = line.partition("\t")
        posts.append((address, body.encode()))
    return posts


def wsgi_post(app: Callable[..., Any], address: str, body: bytes) -> int:
    """One POST through the WSGI application, as Granian and a2wsgi hand it to Django."""
    environ = {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": PATH,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_ORIGIN": ORIGIN,
        "HTTP_X_FORWARDED_FOR": address,
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
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
        b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close:
            close()
    return int(status[0].split()[0])


@dataclass
class Part:
    """A function timed inside each post, with its place in the report's tree."""

    label: str
    depth: int
    timer: Timed


def timed_parts() -> list[Part]:
    """What `profile` times inside a post, in the order and nesting the report shows."""
    from django.db.backends.base.base import BaseDatabaseWrapper

    from townhall.discussions import actions, api
    from townhall.moderation import pipeline, toxicity

    wanted = [
        ("access_site (the view)", 1, api, "access_site"),
        ("do_post_comment", 1, actions, "do_post_comment"),
        ("render_markdown", 2, actions, "render_markdown"),
        ("run_pipeline", 2, pipeline, "run_pipeline"),
        ("toxicity.score", 3, toxicity, "score"),
        ("_history (the same text again)", 3, pipeline, "_history"),
        ("_find_thread", 2, actions, "_find_thread"),
        ("_reply_target", 2, actions, "_reply_target"),
        ("_get_or_create_thread", 2, actions, "_get_or_create_thread"),
        ("_check_still_open", 2, actions, "_check_still_open"),
        ("do_create_guest", 2, actions, "do_create_guest"),
        ("insert (the comment)", 2, actions, "insert"),
        ("bump_thread", 2, actions, "bump_thread"),
        ("shown_event (live)", 3, actions, "shown_event"),
        ("record_event (live)", 3, actions, "record_event"),
        ("commit", 2, BaseDatabaseWrapper, "commit"),
        ("on-commit hooks", 2, BaseDatabaseWrapper, "run_and_clear_commit_hooks"),
        ("make_commenter_token", 2, actions, "make_commenter_token"),
        ("_posted (the answer)", 1, api, "_posted"),
    ]
    # A part the code under test no longer has is left out rather than failing the run.
    return [
        Part(label, depth, Timed(owner, name))
        for label, depth, owner, name in wanted
        if hasattr(owner, name)
    ]


class Timed:
    """Replaces `owner.name` with a wrapper that adds each call's duration to `seconds`."""

    def __init__(self, owner: Any, name: str) -> None:
        self.owner, self.name = owner, name
        self.original = getattr(owner, name)
        self.seconds = 0.0
        self.calls = 0

    def __enter__(self) -> Timed:
        original = self.original

        def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - began
                self.calls += 1

        setattr(self.owner, self.name, timed)
        return self

    def __exit__(self, *_exc: object) -> None:
        setattr(self.owner, self.name, self.original)


def statement_kind(sql: str) -> str:
    """'INSERT townhall_discussions_comment', 'SELECT townhall_sites_site', 'BEGIN', ..."""
    verb = sql.lstrip().split(None, 1)[0].upper()
    match = re.search(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', sql, re.IGNORECASE)
    return f"{verb} {match.group(1)}" if match else verb


def profile_command(path: str, count: str) -> dict[str, Any]:
    from django.db import connection

    from townhall.config.wsgi import application

    n = int(count)
    posts = read_posts(path)
    if len(posts) < WARMUP + 2 * n:
        raise SystemExit(f"{path} holds {len(posts)} posts, fewer than {WARMUP + 2 * n}")
    statuses: Counter[int] = Counter()
    for address, body in posts[:WARMUP]:
        statuses[wsgi_post(application, address, body)] += 1

    sql_seconds: dict[str, float] = defaultdict(float)
    sql_counts: Counter[str] = Counter()

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        kind = statement_kind(sql)
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            sql_seconds[kind] += time.perf_counter() - began
            sql_counts[kind] += 1

    timed = posts[WARMUP : WARMUP + n]
    per_request = []
    parts = timed_parts()
    with contextlib.ExitStack() as stack:
        for part in parts:
            stack.enter_context(part.timer)
        stack.enter_context(connection.execute_wrapper(wrapper))
        cpu, began = time.process_time(), time.perf_counter()
        for address, body in timed:
            start = time.perf_counter()
            statuses[wsgi_post(application, address, body)] += 1
            per_request.append(time.perf_counter() - start)
        wall, cpu = time.perf_counter() - began, time.process_time() - cpu

    def us(seconds: float) -> float:
        return seconds / n * 1e6

    breakdown = [
        {"part": "request", "depth": 0, "us": us(wall), "calls": 1.0},
        *(
            {
                "part": part.label,
                "depth": part.depth,
                "us": us(part.timer.seconds),
                "calls": part.timer.calls / n,
            }
            for part in parts
        ),
        {
            "part": "sql_execute",
            "depth": 0,
            "us": us(sum(sql_seconds.values())),
            "calls": sum(sql_counts.values()) / n,
        },
    ]
    statements = [
        {"kind": kind, "per_post": sql_counts[kind] / n, "execute_us": us(sql_seconds[kind])}
        for kind in sorted(sql_seconds, key=lambda k: -sql_seconds[k])
    ]

    profiler = cProfile.Profile()
    profiled = posts[WARMUP + n : WARMUP + 2 * n]
    profiler.enable()
    for address, body in profiled:
        statuses[wsgi_post(application, address, body)] += 1
    profiler.disable()
    stats = pstats.Stats(profiler)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]

    def label(key: tuple[str, int, str]) -> str:
        filename, _line, function = key
        if filename == "~":
            return function
        parts = Path(filename).parts
        for root in ("townhall", "django", "ninja", "a2wsgi", "markdown_it", "nh3", "bleach"):
            if root in parts:
                return "/".join(parts[parts.index(root) :]) + f":{function}"
        return f"{Path(filename).name}:{function}"

    def top(index: int) -> list[dict[str, Any]]:
        ranked = sorted(raw.items(), key=lambda item: -item[1][index])[:TOP]
        return [
            {
                "function": label(key),
                "calls_per_post": value[1] / n,
                "own_us": value[2] / n * 1e6,
                "cumulative_us": value[3] / n * 1e6,
            }
            for key, value in ranked
        ]

    return {
        "posts": n,
        "statuses": {str(k): v for k, v in statuses.items()},
        "per_request_us": {
            "p50": statistics.median(per_request) * 1e6,
            "p99": statistics.quantiles(per_request, n=100)[98] * 1e6,
        },
        "cpu_share": cpu / wall,
        "breakdown": breakdown,
        "statements": statements,
        "by_own_time": top(2),
        "by_cumulative_time": top(3),
    }


COMMANDS: dict[str, Callable[..., dict[str, Any]]] = {
    "rules": rules_command,
    "outcomes": outcomes_command,
    "profile": profile_command,
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        raise SystemExit(f"usage: posting_app.py {{{','.join(COMMANDS)}}} ARGS...")
    django_setup()
    print(json.dumps(COMMANDS[argv[0]](*argv[1:])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
