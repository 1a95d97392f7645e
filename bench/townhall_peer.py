"""Townhall as a benchmark peer: migrate, create the site, serve, seed, verify.

Townhall runs from the project's own environment (its `townhall` command)
the way an operator would run it: `townhall migrate`, `townhall createsite`,
then `townhall serve --workers 2`, on a throw-away SQLite database with rate
limiting off (seeding posts 200 comments in a few seconds) and DEBUG off.
Each comment is posted by a reader of its own, named in X-Forwarded-For,
which Townhall believes from 127.0.0.1 (bench/readers.py).

The read URL is one page of the thread API, oldest first, with room for all
50 roots; each root carries its replies nested, so that one response holds
all 200 comments. This is verified by walking the replies before any load.

For the ASGI server benchmark (bench/asgi_servers.py) the same application,
environment and corpus can be served by uvicorn instead of `townhall serve`
(`running_townhall(server="uvicorn")`).

Run `python bench/townhall_peer.py` to start, seed and verify Townhall once.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import corpus
from readers import PROXY, reader_address
from support import (
    ARTICLE_ORIGIN,
    ARTICLE_TITLE,
    ARTICLE_URL,
    REPO_DIR,
    BenchError,
    PeerKind,
    RunningPeer,
    free_port,
    http_json,
    package_versions,
    response_header,
    run_logged,
    serve_seeded,
    smoke_test,
)

SITE = "bench"
WORKERS = 2
SERVERS = ("granian", "uvicorn")  # ASGI servers Townhall can be benchmarked on
ASGI_APP = "townhall.config.asgi:application"
PAGE_LIMIT = 50  # one page holds every root of the corpus ...
ALL_REPLIES = 1000  # ... and every reply (a page shows 3 per root unless asked), as Isso's read
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
        # Each post names its reader in X-Forwarded-For (bench/readers.py).
        "TOWNHALL_TRUSTED_PROXIES": PROXY,
    }


def prepare(townhall: Path, env: dict[str, str], workdir: Path) -> None:
    """Create the schema and the `bench` site whose allowed origin is the article's."""
    log_path = workdir / "setup.log"
    run_logged([str(townhall), "migrate", "--no-input"], log_path, env, cwd=workdir)
    createsite = [str(townhall), "createsite", SITE, "--name", "Bench", "--origin", ARTICLE_ORIGIN]
    run_logged(createsite, log_path, env, cwd=workdir)


def read_url(base: str) -> str:
    """URL of one read of the whole thread: the first page, oldest first, every reply in it."""
    query = {
        "site": SITE,
        "url": ARTICLE_URL,
        "sort": "oldest",
        "limit": PAGE_LIMIT,
        "replies": ALL_REPLIES,
    }
    return f"{base}/api/v1/threads?{urllib.parse.urlencode(query)}"


def seed(base: str, items: list[corpus.Comment]) -> dict[str, int]:
    """Post the corpus through Townhall's public API, in order; return key -> comment id.

    The first post creates the thread (site + URL + title), like the first
    comment under a freshly published article. Each comment comes from its
    own reader (bench/readers.py): from one address, the moderation
    pipeline would hold a reader's second "Exactly this." as a repeat.
    """
    ids: dict[str, int] = {}
    for number, item in enumerate(items):
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
        headers = {"Origin": ARTICLE_ORIGIN, "X-Forwarded-For": reader_address(number)}
        status, body, raw = http_json("POST", f"{base}/api/v1/comments", payload, headers=headers)
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
    names = ["townhall", "django", "django-ninja", *SERVERS, "httptools", "uvloop"]
    versions = package_versions(python, names)
    if versions is None:
        raise BenchError(f"cannot run {python} to read Townhall's versions")
    return versions


def server_command(townhall: Path, server: str, workers: int) -> list[str]:
    """The command line that serves Townhall with `server`, without --host and --port.

    "granian" is `townhall serve`, the way an operator runs Townhall; "uvicorn"
    serves the same ASGI application with uvicorn's fastest options, for the
    ASGI server benchmark (uvicorn comes with the `bench` extra).
    """
    if server == "granian":
        return [str(townhall), "serve", "--workers", str(workers)]
    if server == "uvicorn":
        uvicorn = townhall.parent / "uvicorn"
        if not uvicorn.is_file():
            raise BenchError(
                f"uvicorn is not installed next to {townhall}: install the bench extra, "
                "e.g. `.venv/bin/python -m pip install -e '.[bench]'` (`make bench` does)"
            )
        return [
            str(uvicorn),
            ASGI_APP,
            "--workers",
            str(workers),
            "--no-access-log",
            "--http",
            "httptools",
            "--loop",
            "uvloop",
        ]
    raise BenchError(f"unknown ASGI server {server!r}; choose one of: {', '.join(SERVERS)}")


def serving_description(versions: dict[str, str], server: str, command: list[str]) -> str:
    """How Townhall is served, naming the HTTP server from its `Server` header."""
    name = server.split("/")[0].strip().lower()
    server_text = f"{name} {versions[name]}" if name in versions else server or "unknown server"
    if name == "uvicorn":
        extras = [f"{lib} {versions[lib]}" for lib in ("httptools", "uvloop") if lib in versions]
        server_text += f" ({', '.join(extras)})" if extras else ""
    shown = shlex.join([Path(command[0]).name, *command[1:]])
    return (
        f"`{shown}`: {server_text}, Django {versions.get('django', '?')}, "
        f"django-ninja {versions.get('django-ninja', '?')}, SQLite"
    )


def answering(url: str, server: str) -> str:
    """The `Server` header of a read; fails unless it names `server`, so no run mislabels."""
    header = response_header(url, "Server")
    if header.split("/")[0].strip().lower() != server:
        raise BenchError(f"expected {server} to answer {url}, but its Server header is {header!r}")
    return header


TOWNHALL = PeerKind(
    name="Townhall", ready_path="/healthz", notes=NOTES, seed=seed, read_url=read_url, verify=verify
)


@contextmanager
def running_townhall(
    workers: int = WORKERS,
    server: str = "granian",
    command: list[str] | None = None,
    extra_env: dict[str, str] | None = None,
) -> Iterator[RunningPeer]:
    """Prepare, start, seed and verify Townhall; stop it on exit, whatever happens.

    `server` picks the ASGI server (see `server_command`); both get the same
    environment, database setup and corpus. `command` replaces the serving
    command with an instrumented stand-in that takes the same `--host` and
    `--port` and runs `server` (bench/posting_probe.py); `extra_env` is added
    to the environment.
    """
    townhall = townhall_bin()
    versions = installed_versions(townhall.parent / "python")
    command = command or server_command(townhall, server, workers)
    with tempfile.TemporaryDirectory(prefix="bench-townhall-") as tmp:
        workdir = Path(tmp)
        env = {**server_env(workdir), **(extra_env or {})}
        prepare(townhall, env, workdir)
        port = free_port()
        argv = [*command, "--host", "127.0.0.1", "--port", str(port)]
        with serve_seeded(
            TOWNHALL,
            argv,
            env,
            workdir,
            port,
            version=versions.get("townhall", "?"),
            python=versions["python"],
            serving=lambda url: serving_description(versions, answering(url, server), command),
        ) as peer:
            yield peer


if __name__ == "__main__":
    smoke_test(running_townhall)
