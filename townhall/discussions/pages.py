"""Thread pages: the read hot path.

A page is built once per thread version and kept, as the exact response bytes with their ETag,
in this process's memory and in Django's cache (shared through Redis when configured). The key
holds the thread's version, which every visible change bumps, so a cached page is never
invalidated, only left behind.

Building a page costs four queries whatever the thread's size: the thread, its latest live
event (the point a live stream resumes from), one page of root comments by the sort order
(keyset paging on an index), and the replies of those roots (one query through
``Comment.root``).
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from django.core.cache import cache
from django.db.models import Exists, OuterRef, Q

from townhall.config import env
from townhall.core.errors import BadRequest
from townhall.discussions import versions
from townhall.discussions.models import Comment, CommentStatus, Thread
from townhall.discussions.urls import InvalidArticleUrl, canonical_url_key, split_article_url
from townhall.live.models import LiveEvent
from townhall.sites.models import Site

SORTS = ("newest", "oldest", "most_voted")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_PASSAGES = 500
PAGE_TTL_SECONDS = 3600

_ORDERING = {
    "newest": ("-created", "-id"),
    "oldest": ("created", "id"),
    "most_voted": ("-score", "-created", "-id"),
}
_PAGE_FIELDS = (
    "id",
    "parent_id",
    "nest_parent_id",
    "depth",
    "passage",
    "author_name",
    "body_html",
    "status",
    "upvotes",
    "downvotes",
    "score",
    "created",
    "edited",
    "featured",
)


@dataclass(frozen=True)
class Page:
    etag: str
    body: bytes


class Article(NamedTuple):
    origin: str
    canonical_url: str
    key: str


def resolve_article(url: str) -> Article:
    """An article URL's origin, canonical form and thread key; BadRequest ``invalid_url``."""
    try:
        origin, canonical = split_article_url(url)
    except InvalidArticleUrl as error:
        raise BadRequest(str(error), code="invalid_url", field="url") from None
    return Article(origin, canonical, canonical_url_key(canonical))


def thread_page(
    site: Site,
    url: str,
    *,
    sort: str,
    limit: int,
    cursor: str | None,
    only: str | None = None,
) -> Page:
    """The page of the thread at ``url``, from a cache when this version was built before.

    Precondition: ``sort`` is one of SORTS, ``limit`` within 1..MAX_LIMIT and ``only`` None or
    "passages" (the API schema checks them). An article with no thread yet gets an empty page.
    Publishes the version read, so that the fast path (``hotpath``) can serve the next requests
    for it.
    """
    url_key = resolve_article(url).key
    after = decode_cursor(cursor, sort) if cursor else None
    thread = (
        Thread.objects.filter(site=site, url_key=url_key)
        .only("id", "version", "url", "title", "comment_count", "is_open", "site_id")
        .first()
    )
    version = thread.version if thread else 0
    vkey = versions.version_key(site.slug, url_key)
    key = page_key(vkey, version, sort, limit, cursor, only)
    page = local_pages.get(key)
    if page is None:
        page = cache.get(key)
        if page is None:
            page = _build_page(site, thread, url, sort=sort, limit=limit, after=after, only=only)
            cache.set(key, page, PAGE_TTL_SECONDS)
        local_pages.put(key, page)
    versions.store().publish(vkey, version)
    return page


def page_key(
    vkey: str, version: int, sort: str, limit: int, cursor: str | None, only: str | None = None
) -> str:
    return f"thread-page:{vkey}:{version}:{sort}:{limit}:{only or ''}:{cursor or ''}"


def thread_passages(site: Site, url: str) -> Page:
    """The thread's visible passage comments (newest ``MAX_PASSAGES``) with their selectors,
    cached by thread version like the pages. Precondition: none; BadRequest ``invalid_url``."""
    url_key = resolve_article(url).key
    thread = Thread.objects.filter(site=site, url_key=url_key).only("id", "version").first()
    version = thread.version if thread else 0
    key = f"thread-passages:{versions.version_key(site.slug, url_key)}:{version}"
    page = cache.get(key)
    if page is None:
        rows = []
        if thread is not None:
            rows = list(
                Comment.objects.filter(
                    thread=thread, depth=0, status=CommentStatus.VISIBLE, passage__isnull=False
                )
                .order_by("-created", "-id")
                .values("id", "author_name", "body_html", "created", "score", "passage")[
                    :MAX_PASSAGES
                ]
            )
        payload = {
            "thread_id": thread.pk if thread else None,
            "passages": [
                {
                    "id": row["id"],
                    "author_name": row["author_name"],
                    "html": row["body_html"],
                    "created": row["created"],
                    "score": row["score"],
                    "passage": row["passage"],
                }
                for row in rows
            ],
        }
        page = _page_of(payload)
        cache.set(key, page, PAGE_TTL_SECONDS)
    return page


class LocalPages:
    """This process's most recently used pages, bounded by their total size in bytes.

    Pages never change once built (their key holds the thread version), so this needs no
    invalidation: pages of old versions are simply pushed out.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._pages: OrderedDict[str, Page] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> Page | None:
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
            return page

    def put(self, key: str, page: Page) -> None:
        size = len(page.body)
        if size > self.max_bytes:
            return
        with self._lock:
            previous = self._pages.pop(key, None)
            if previous is not None:
                self._bytes -= len(previous.body)
            self._pages[key] = page
            self._bytes += size
            while self._bytes > self.max_bytes:
                _key, evicted = self._pages.popitem(last=False)
                self._bytes -= len(evicted.body)

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()
            self._bytes = 0


local_pages = LocalPages(max_bytes=env.get_int("PAGE_MEMORY_MB", 64) * 1024 * 1024)


def _build_page(
    site: Site,
    thread: Thread | None,
    url: str,
    *,
    sort: str,
    limit: int,
    after: list | None,
    only: str | None,
) -> Page:
    payload: dict[str, Any]
    if thread is None:
        payload = {
            "thread": {
                "id": None,
                "url": url,
                "title": "",
                "comment_count": 0,
                "is_open": True,
                "live_event_id": 0,
            },
            "comments": [],
            "next_cursor": None,
        }
    else:
        # Read before the comments: the page holds at least every change up to this event, so a
        # live stream resumed from it misses nothing (and may repeat a little).
        live_event_id = (
            LiveEvent.objects.filter(thread=thread)
            .order_by("-pk")
            .values_list("pk", flat=True)
            .first()
        )
        roots, next_cursor = _root_page(thread, sort=sort, limit=limit, after=after, only=only)
        payload = {
            "thread": {
                "id": thread.pk,
                "url": thread.url,
                "title": thread.title,
                "comment_count": thread.comment_count,
                "is_open": thread.is_open,
                "live_event_id": live_event_id or 0,
            },
            "comments": _with_replies(roots),
            "next_cursor": next_cursor,
        }
    return _page_of(payload)


def _page_of(payload: dict[str, Any]) -> Page:
    """The response bytes of ``payload`` with their strong ETag."""
    body = orjson.dumps(payload)
    return Page(etag='"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"', body=body)


def _root_page(
    thread: Thread, *, sort: str, limit: int, after: list | None, only: str | None
) -> tuple[list[dict], str | None]:
    visible_below = Comment.objects.filter(root=OuterRef("pk"), status=CommentStatus.VISIBLE)
    roots = Comment.objects.filter(thread=thread, depth=0).filter(
        Q(status=CommentStatus.VISIBLE) | Q(Exists(visible_below))
    )
    if only == "passages":
        roots = roots.filter(passage__isnull=False)
    if after is not None:
        roots = roots.filter(_after(sort, after))
    rows = list(roots.order_by(*_ORDERING[sort]).values(*_PAGE_FIELDS)[: limit + 1])
    next_cursor = encode_cursor(rows[limit - 1], sort) if len(rows) > limit else None
    return rows[:limit], next_cursor


def _with_replies(roots: list[dict]) -> list[dict]:
    """Nests each root's replies under it, oldest first, and drops hidden comments except as
    placeholders for visible replies below them."""
    if not roots:
        return []
    root_ids = [row["id"] for row in roots]
    replies = list(
        Comment.objects.filter(root_id__in=root_ids).order_by("created", "id").values(*_PAGE_FIELDS)
    )
    nodes = {row["id"]: _present(row) for row in roots + replies}
    shown = {row["id"] for row in roots + replies if row["status"] == CommentStatus.VISIBLE}
    # Children come after their parents in time, so walking backwards carries "has a visible
    # reply" up the tree in one pass.
    for row in reversed(replies):
        if row["id"] in shown:
            shown.add(row["nest_parent_id"])
    for row in replies:
        if row["id"] in shown and row["nest_parent_id"] in nodes:
            nodes[row["nest_parent_id"]]["replies"].append(nodes[row["id"]])
    return [nodes[row["id"]] for row in roots]


def _present(row: dict) -> dict:
    visible = row["status"] == CommentStatus.VISIBLE
    return {
        "id": row["id"],
        "parent_id": row["parent_id"],
        "depth": row["depth"],
        "author_name": row["author_name"] if visible else None,
        "html": row["body_html"] if visible else "",
        "status": row["status"],
        "created": row["created"],
        "edited": row["edited"],
        "upvotes": row["upvotes"],
        "downvotes": row["downvotes"],
        "score": row["score"],
        "featured": row["featured"] and visible,
        # Kept on placeholders too, so replies under a deleted passage comment stay in place.
        "passage": row["passage"],
        "replies": [],
    }


def present_comment(comment: Comment) -> dict:
    """A comment as its own author sees it in a write response: with its text and name even
    while it waits for moderation."""
    shown = _present({field: getattr(comment, field) for field in _PAGE_FIELDS})
    if comment.status != CommentStatus.DELETED:
        shown["html"], shown["author_name"] = comment.body_html, comment.author_name
    if comment.status == CommentStatus.SPAM:
        shown["status"] = CommentStatus.PENDING  # a spammer learns no more than "waiting"
    return shown


def encode_cursor(row: dict, sort: str) -> str:
    values: list = [row["created"].isoformat(), row["id"]]
    if sort == "most_voted":
        values.insert(0, row["score"])
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> list:
    """The position a cursor names; BadRequest ``invalid_cursor`` if it is not one of ours."""
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if sort == "most_voted":
            score, created, pk = values
            if not isinstance(score, int):
                raise ValueError
            parsed: list = [score, datetime.fromisoformat(created), pk]
        else:
            created, pk = values
            parsed = [datetime.fromisoformat(created), pk]
        if not isinstance(pk, int) or isinstance(pk, bool):
            raise ValueError
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise BadRequest(
            "The cursor is not valid for this sort order.", code="invalid_cursor", field="cursor"
        ) from None
    return parsed


def _after(sort: str, position: list) -> Q:
    if sort == "most_voted":
        score, created, pk = position
        return (
            Q(score__lt=score)
            | Q(score=score, created__lt=created)
            | Q(score=score, created=created, id__lt=pk)
        )
    created, pk = position
    if sort == "newest":
        return Q(created__lt=created) | Q(created=created, id__lt=pk)
    return Q(created__gt=created) | Q(created=created, id__gt=pk)
