"""Isso 0.14 as the benchmark's reference peer: install, configure, serve, seed, verify.

Isso is the comment server Townhall is measured against, so it runs the way
its own documentation deploys it: its WSGI app (`isso.run:application`, which
reads the config file named by the ISSO_SETTINGS environment variable) under
gunicorn with `--preload` and 2 sync workers, on a throw-away SQLite database.

Isso keeps at most two levels: a reply to a reply is stored under the root
comment. The read URL (`GET /?uri=/article` without `limit` or
`nested_limit`) is what Isso's own embed requests when no limits are
configured, and returns all comments, roots with their replies nested.

The posting benchmark runs Isso with POSTING_CONFIG_TEMPLATE instead: its
guard on, with its own defaults, and 127.0.0.1 trusted as a reverse proxy.

Run `python bench/isso_peer.py` to start, seed and verify Isso once (no load).
"""

from __future__ import annotations

import os
import sys
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
    ARTICLE_PATH,
    ARTICLE_TITLE,
    BENCH_DIR,
    BenchError,
    PeerKind,
    RunningPeer,
    free_port,
    http_json,
    package_versions,
    run_logged,
    serve_seeded,
    smoke_test,
)

ISSO_VERSION = "0.14.0"
NOTES = (
    "Isso queries SQLite and renders every comment's Markdown on each read; it keeps two "
    "levels only (a reply to a reply is stored under the root comment)."
)
VENV_DIR = BENCH_DIR / ".venvs" / "isso"
WORKERS = 2

CONFIG_TEMPLATE = """\
[general]
dbpath = {dbpath}
host = {origin}
notify = stdout
gravatar = false

[moderation]
enabled = false

[guard]
# Seeding posts 200 comments from one address in a few seconds; Isso's
# default guard (rate limit, direct-reply limit) would reject most of them.
enabled = false
"""

# The posting benchmark (bench/posting.py): Isso's guard on with its own defaults, as its docs
# recommend for production (a reader may post 2 comments a minute and 3 top-level comments per
# thread, and may not reply to their own comment while it can still be edited), and the
# reader's address taken from X-Forwarded-For, as behind a reverse proxy: every post of the
# benchmark comes from a reader of its own (bench/readers.py), so the guard checks each post
# and refuses none.
POSTING_CONFIG_TEMPLATE = """\
[general]
dbpath = {dbpath}
host = {origin}
notify = stdout
gravatar = false

[server]
trusted-proxies = {proxy}

[moderation]
enabled = false

[guard]
enabled = true
ratelimit = 2
direct-reply = 3
reply-to-self = false
require-author = false
require-email = false
"""


def venv_python() -> Path:
    """Path of the Python interpreter inside the Isso venv."""
    return VENV_DIR / "bin" / "python"


def installed_versions() -> dict[str, str] | None:
    """Return {"python": ..., "isso": ..., "gunicorn": ...} from the venv, or None if unusable."""
    if not venv_python().exists():
        return None
    return package_versions(venv_python(), ["isso", "gunicorn"])


def ensure_venv() -> dict[str, str]:
    """Create bench/.venvs/isso with isso==0.14.0 and gunicorn unless already there.

    A separate venv keeps Isso's dependencies (Werkzeug, misaka, ...) out of
    the project's own environment. Returns the installed versions.
    """
    versions = installed_versions()
    if versions and versions.get("isso") == ISSO_VERSION and "gunicorn" in versions:
        return versions
    VENV_DIR.parent.mkdir(parents=True, exist_ok=True)
    log_path = VENV_DIR.parent / "isso-install.log"
    print(f"Installing isso=={ISSO_VERSION} and gunicorn into {VENV_DIR} (log: {log_path})")
    try:
        if not venv_python().exists():
            run_logged([sys.executable, "-m", "venv", str(VENV_DIR)], log_path)
        pip = [str(venv_python()), "-m", "pip", "install", "--disable-pip-version-check"]
        run_logged([*pip, f"isso=={ISSO_VERSION}", "gunicorn"], log_path)
    except BenchError as error:
        raise BenchError(
            f"could not install Isso {ISSO_VERSION} from PyPI into {VENV_DIR}.\n"
            "Check that PyPI is reachable. Isso also builds `misaka` (a C extension), which "
            "needs a C compiler and Python headers when no wheel fits. Rerun once fixed "
            f"(delete {VENV_DIR} to start over).\n"
            f"{error}"
        ) from error
    versions = installed_versions()
    if not versions or versions.get("isso") != ISSO_VERSION or "gunicorn" not in versions:
        raise BenchError(f"Isso venv at {VENV_DIR} is unusable after install: {versions}")
    return versions


def write_config(workdir: Path, template: str = CONFIG_TEMPLATE) -> Path:
    """Write an Isso config with its SQLite database inside `workdir`."""
    path = workdir / "isso.cfg"
    text = template.format(dbpath=workdir / "comments.db", origin=ARTICLE_ORIGIN, proxy=PROXY)
    path.write_text(text)
    return path


def read_url(base: str) -> str:
    """URL of one read of the whole thread, as Isso's embed fetches it."""
    return f"{base}/?{urllib.parse.urlencode({'uri': ARTICLE_PATH})}"


def seed(base: str, items: list[corpus.Comment]) -> dict[str, int]:
    """Post the corpus through Isso's public API, in order; return key -> Isso id.

    Posting through HTTP (not SQL) means the stored rows are exactly what
    Isso itself produces, including its rendered-text and hash handling.
    Each comment names its own reader in X-Forwarded-For (bench/readers.py),
    which Isso believes only where the config trusts 127.0.0.1 as a proxy
    (the posting benchmark's, whose guard limits posts per address).
    """
    ids: dict[str, int] = {}
    url = f"{base}/new?{urllib.parse.urlencode({'uri': ARTICLE_PATH})}"
    for number, item in enumerate(items):
        payload = {
            "text": item["body"],
            "author": item["author"],
            "email": item["email"],
            "parent": ids[item["parent_key"]] if item["parent_key"] else None,
            "title": ARTICLE_TITLE,
        }
        headers = {"Origin": ARTICLE_ORIGIN, "X-Forwarded-For": reader_address(number)}
        status, body, raw = http_json("POST", url, payload, headers=headers)
        if status != 201 or not isinstance(body, dict):
            raise BenchError(f"Isso rejected comment {item['key']}: HTTP {status} {raw[:300]!r}")
        ids[item["key"]] = int(body["id"])
    return ids


def count_comments(node: dict[str, Any]) -> int:
    """Count comments in an Isso fetch answer by walking every `replies` list.

    Also insists no level reports hidden replies: a truncated answer would
    make Isso look faster than it is.
    """
    if node.get("hidden_replies", 0):
        hidden = node["hidden_replies"]
        raise BenchError(f"Isso answer hides {hidden} replies under comment {node.get('id')}")
    return sum(1 + count_comments(child) for child in node.get("replies", []))


def verify(url: str, expected: int) -> int:
    """Read the thread once; fail unless it carries all `expected` comments. Returns body size."""
    status, body, raw = http_json("GET", url)
    if status != 200 or not isinstance(body, dict):
        raise BenchError(f"Isso read failed: HTTP {status} {raw[:300]!r}")
    found = count_comments(body)
    if found != expected or body.get("total_replies") != expected:
        raise BenchError(
            f"Isso returned {found} comments (total_replies={body.get('total_replies')}), "
            f"expected {expected}"
        )
    return len(raw)


ISSO = PeerKind(
    name="Isso", ready_path="/config", notes=NOTES, seed=seed, read_url=read_url, verify=verify
)


@contextmanager
def running_isso(workers: int = WORKERS, template: str = CONFIG_TEMPLATE) -> Iterator[RunningPeer]:
    """Install (once), start, seed and verify Isso; stop it on exit, whatever happens.

    `template` is the config (CONFIG_TEMPLATE, or POSTING_CONFIG_TEMPLATE for the posting
    benchmark).
    """
    versions = ensure_venv()
    with tempfile.TemporaryDirectory(prefix="bench-isso-") as tmp:
        workdir = Path(tmp)
        config = write_config(workdir, template)
        port = free_port()
        argv = [
            str(VENV_DIR / "bin" / "gunicorn"),
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            # As Isso's docs deploy it: the app (and its SQLite schema) is set up
            # once in the master, so no worker creates tables while another writes.
            "--preload",
            "isso.run:application",
        ]
        env = {**os.environ, "ISSO_SETTINGS": str(config)}
        serving = f"gunicorn {versions['gunicorn']} --preload, {workers} sync workers, SQLite"
        with serve_seeded(
            ISSO,
            argv,
            env,
            workdir,
            port,
            version=versions["isso"],
            python=versions["python"],
            serving=lambda _url: serving,
        ) as peer:
            yield peer


if __name__ == "__main__":
    smoke_test(running_isso)
