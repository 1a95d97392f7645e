"""Townhall as a benchmark peer: migrate, create the site, serve, seed, verify.

Townhall runs from the project's own environment (its `townhall` command)
the way an operator would run it: `townhall migrate`, `townhall createsite`,
then `townhall serve --workers 2`, on a throw-away SQLite database with rate
limiting off (seeding posts 200 comments in a few seconds) and DEBUG off.

The read URL is one page of the thread API, oldest first, with room for all
50 roots; each root carries its replies nested, so that one response holds
all 200 comments. This is verified by walking the replies before any load.

Run `python bench/townhall_peer.py` to start, seed and verify Townhall once.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import corpus
from support import (
    ARTICLE_ORIGIN,
    ARTICLE_TITLE,
    ARTICLE_URL,
    REPO_DIR,
    BenchError,
    RunningPeer,
    free_port,
    http_json,
    package_versions,
    response_header,
    run_logged,
    start_server,
    stop_server,
    wait_until_ready,
    with_server_log,
)

SITE = "bench"
WORKERS = 2
PAGE_LIMIT = 50  # one page holds every root of the corpus (and their replies)
NOTES = (
    "Townhall renders Markdown to sanitized HTML when a comment is posted and keeps each "
    "built thread page (the response bytes) per thread version in a per-process cache, "
    "answered by an ASGI fast path before Django; no Redis is configured, so each worker "
    "builds its own copy once."
)


def townhall_bin() -> Path:
    """Find the `townhall` command: $TOWNHALL_BIN, the project venv, then PATH."""
    candidates = [os.environ.get("TOWNHALL_BIN"), str(REPO_DIR / ".venv" / "bin" / "townhall")]
    candidates.append(shutil.which("townhall"))
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise BenchError(
        "the `townhall` command was not found (looked at $TOWNHALL_BIN, .venv/bin/townhall "
        "and PATH); install the project first, e.g. `pip install -e .` in .venv"
    )


def server_env(workdir: Path) -> dict[str, str]:
    """Environment for every townhall command: own SQLite DB, no rate limit, no debug.

    TOWNHALL_VAR_DIR keeps Townhall's local state (./var by default) in the
    temporary directory too, so a run leaves nothing in the work tree.
    """
    return {
        **os.environ,
        "TOWNHALL_VAR_DIR": str(workdir / "var"),
        "TOWNHALL_DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
        "TOWNHALL_SECRET_KEY": "bench-only-not-secret",
        "TOWNHALL_RATELIMIT": "0",
        "TOWNHALL_DEBUG": "0",
    }


def prepare(townhall: Path, env: dict[str, str], workdir: Path) -> None:
    """Create the schema and the `bench` site whose allowed origin is the article's."""
    log_path = workdir / "setup.log"
    run_logged([str(townhall), "migrate", "--no-input"], log_path, env, cwd=workdir)
    createsite = [str(townhall), "createsite", SITE, "--name", "Bench", "--origin", ARTICLE_ORIGIN]
    run_logged(createsite, log_path, env, cwd=workdir)


def read_url(base: str) -> str:
    """URL of one read of the whole thread: the first page, oldest first."""
    query = {"site": SITE, "url": ARTICLE_URL, "sort": "oldest", "limit": PAGE_LIMIT}
    return f"{base}/api/v1/threads?{urllib.parse.urlencode(query)}"


def seed(base: str, items: list[corpus.Comment]) -> dict[str, int]:
    """Post the corpus through Townhall's public API, in order; return key -> comment id.

    The first post creates the thread (site + URL + title), like the first
    comment under a freshly published article.
    """
    ids: dict[str, int] = {}
    for item in items:
        payload: dict[str, Any] = {
            "site": SITE,
            "url": ARTICLE_URL,
            "title": ARTICLE_TITLE,
            "body": item["body"],
            "author_name": item["author"],
        }
        if item["email"]:
            payload["author_email"] = item["email"]
        if item["parent_key"]:
            payload["parent_id"] = ids[item["parent_key"]]
        status, body, raw = http_json(
            "POST", f"{base}/api/v1/comments", payload, headers={"Origin": ARTICLE_ORIGIN}
        )
        if status != 201 or not isinstance(body, dict) or "comment" not in body:
            detail = f"HTTP {status} {raw[:300]!r}"
            raise BenchError(f"Townhall rejected comment {item['key']}: {detail}")
        ids[item["key"]] = int(body["comment"]["id"])
    return ids


def count_comments(comments: list[dict[str, Any]]) -> int:
    """Count comments in a thread page by walking every nested `replies` list."""
    return sum(1 + count_comments(c.get("replies") or []) for c in comments)


def verify(url: str, expected: int) -> int:
    """Read the thread once; fail unless it carries all `expected` comments. Returns body size."""
    status, body, raw = http_json("GET", url)
    if status != 200 or not isinstance(body, dict):
        raise BenchError(f"Townhall read failed: HTTP {status} {raw[:300]!r}")
    found = count_comments(body.get("comments") or [])
    reported = (body.get("thread") or {}).get("comment_count")
    if found != expected or reported != expected or body.get("next_cursor") is not None:
        raise BenchError(
            f"Townhall returned {found} comments (thread.comment_count={reported}, "
            f"next_cursor={body.get('next_cursor')!r}), expected {expected} on one page"
        )
    return len(raw)


def installed_versions(python: Path) -> dict[str, str]:
    """Versions of Townhall, its frameworks and the HTTP servers it may run on."""
    names = ["townhall", "django", "django-ninja", "uvicorn", "granian"]
    versions = package_versions(python, names)
    if versions is None:
        raise BenchError(f"cannot run {python} to read Townhall's versions")
    return versions


def serving_description(versions: dict[str, str], server: str, workers: int) -> str:
    """How `townhall serve` serves, naming the HTTP server from its `Server` header."""
    name = server.split("/")[0].strip().lower()
    server_text = f"{name} {versions[name]}" if name in versions else server or "unknown server"
    return (
        f"`townhall serve --workers {workers}`: {server_text}, Django "
        f"{versions.get('django', '?')}, django-ninja {versions.get('django-ninja', '?')}, SQLite"
    )


@contextmanager
def running_townhall(workers: int = WORKERS) -> Iterator[RunningPeer]:
    """Prepare, start, seed and verify Townhall; stop it on exit, whatever happens."""
    townhall = townhall_bin()
    versions = installed_versions(townhall.parent / "python")
    items = corpus.comments()
    with tempfile.TemporaryDirectory(prefix="bench-townhall-") as tmp:
        workdir = Path(tmp)
        env = server_env(workdir)
        prepare(townhall, env, workdir)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log_path = workdir / "server.log"
        argv = [
            str(townhall),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ]
        proc = start_server(argv, env, log_path, cwd=workdir)
        try:
            wait_until_ready(f"{base}/healthz", proc, log_path)
            try:
                seed(base, items)
                url = read_url(base)
                size = verify(url, len(items))
            except BenchError as error:
                raise with_server_log(error, log_path) from error
            yield RunningPeer(
                name="Townhall",
                version=versions.get("townhall", "?"),
                read_url=url,
                proc=proc,
                log_path=log_path,
                serving=serving_description(versions, response_header(url, "Server"), workers),
                python=versions["python"],
                comment_count=len(items),
                response_bytes=size,
                check=lambda: verify(url, len(items)),
                notes=NOTES,
            )
        finally:
            stop_server(proc)


def main() -> None:
    """Smoke test: start, seed and verify Townhall, print what would be benchmarked."""
    try:
        with running_townhall() as peer:
            print(f"Townhall {peer.version} ready: {peer.read_url}")
            print(f"  {peer.comment_count} comments, {peer.response_bytes} bytes per read")
    except BenchError as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
