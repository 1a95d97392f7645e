"""Commento (and Commento++) JSON exports: ``{"version": 1, "comments": [...],
"commenters": [...]}``.

Comments name their commenter by ``commenterHex`` and the commenters come after the comments,
so the file is streamed twice with ijson: first the commenters (kept: one small entry per
person), then the comments, yielded one by one. A comment's page is ``url`` (a path) on its
``domain``: the thread URL is ``https://<domain><url>``; a comment without a domain keeps the
path, which the import resolves against its base URL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ijson

from townhall.migration.records import (
    Problem,
    Record,
    Skipped,
    SourceAuthor,
    SourceComment,
    SourceError,
    SourceThread,
    open_counted,
)
from townhall.migration.sources._util import BOM, parse_time

ANONYMOUS = "anonymous"
_STATUS = {"approved": "visible", "unapproved": "pending", "flagged": "pending"}


def read(path: Path, *, on_bytes: Callable[[int], None] | None = None) -> Iterator[Record]:
    """The records of a Commento export; SourceError when the file is not one."""
    path = Path(path)
    # The file is read twice: each pass reports half of what it reads, so progress ends at 100%.
    first = (lambda n: on_bytes(n // 2)) if on_bytes is not None else None
    second = (lambda n: on_bytes(n - n // 2)) if on_bytes is not None else None
    commenters = _commenters(path, first)
    yield from _comments(path, commenters, second)


def _open(path: Path, on_bytes: Callable[[int], None] | None) -> Any:
    try:
        raw: Any = open_counted(path, on_bytes)
    except OSError as error:
        raise SourceError(f"Cannot read {path}: {error.strerror or error}") from None
    if raw.peek(3)[:3] == BOM:
        raw.read(3)
    return raw


def _commenters(path: Path, on_bytes: Callable[[int], None] | None) -> dict[str, SourceAuthor]:
    """Every commenter of the file by commenterHex; checks that the file is a Commento export."""
    found: dict[str, SourceAuthor] = {}
    has_comments = False
    builder: Any = None
    raw = _open(path, on_bytes)
    try:
        for prefix, event, value in ijson.parse(raw, use_float=True):
            if prefix == "comments" and event == "start_array":
                has_comments = True
            elif prefix == "commenters.item" and event == "start_map":
                builder = ijson.ObjectBuilder()
            if builder is None:
                continue
            builder.event(event, value)
            if prefix == "commenters.item" and event == "end_map":
                item, builder = builder.value, None
                if item.get("commenterHex"):
                    found[str(item["commenterHex"])] = _author(item)
    except (ijson.JSONError, ijson.IncompleteJSONError) as error:
        raise SourceError(f"{path} is not a Commento JSON export: {_first_line(error)}") from None
    finally:
        raw.close()
    if not has_comments:
        raise SourceError(f'{path} is not a Commento JSON export (no "comments" list).')
    return found


def _author(item: dict[str, Any]) -> SourceAuthor:
    return SourceAuthor(
        name=str(item.get("name") or ""),
        email=str(item.get("email") or ""),
        key=str(item["commenterHex"]),
        avatar_url=str(item.get("photo") or ""),
    )


def _comments(
    path: Path, commenters: dict[str, SourceAuthor], on_bytes: Callable[[int], None] | None
) -> Iterator[Record]:
    threads: set[str] = set()
    raw = _open(path, on_bytes)
    try:
        for item in ijson.items(raw, "comments.item", use_float=True):
            if isinstance(item, dict):
                yield from _comment(item, commenters, threads)
    except (ijson.JSONError, ijson.IncompleteJSONError) as error:
        raise SourceError(f"{path} is not a Commento JSON export: {_first_line(error)}") from None
    finally:
        raw.close()


def _comment(
    item: dict[str, Any], commenters: dict[str, SourceAuthor], threads: set[str]
) -> Iterator[Record]:
    source_id = str(item.get("commentHex") or "")
    if not source_id:
        yield Problem("comments", "A comment without a commentHex is left out.")
        return
    where = f"comment {source_id[:12]}…"
    if item.get("deleted") is True:
        yield Skipped("comment", source_id, "deleted")
        return
    domain, path = str(item.get("domain") or "").strip(), str(item.get("url") or "").strip()
    url = f"https://{domain}{path if path.startswith('/') else '/' + path}" if domain else path
    created = parse_time(item.get("creationDate"))
    if created is None:
        yield Problem(where, f"Bad creationDate {item.get('creationDate')!r}; left out.")
        return
    # One thread per page; its id is the page's URL, the only name Commento gives it.
    thread_id = url if len(url) <= 255 else "sha256:" + hashlib.sha256(url.encode()).hexdigest()
    if thread_id not in threads:
        threads.add(thread_id)
        yield SourceThread(source_id=thread_id, url=url)
    hex_id = str(item.get("commenterHex") or ANONYMOUS)
    author = commenters.get(hex_id) if hex_id != ANONYMOUS else None
    if author is None:
        author = SourceAuthor(name="Anonymous")
    parent = str(item.get("parentHex") or "root")
    score = item.get("score")
    score = int(score) if isinstance(score, int | float) else 0
    state = str(item.get("state") or "approved")
    yield SourceComment(
        source_id=source_id,
        thread_id=thread_id,
        parent_id=None if parent == "root" else parent,
        author=author,
        created=created,
        markdown=str(item.get("markdown") or ""),
        status=_STATUS.get(state, "pending"),
        upvotes=max(score, 0),
        downvotes=max(-score, 0),
    )


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
