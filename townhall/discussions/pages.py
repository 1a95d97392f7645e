"""Thread pages: the read hot path.

A page is built once per thread version and kept, as the exact response bytes with their ETag,
in this process's memory and in Django's cache (shared through Redis when configured). The key
holds the thread's version, which every visible change bumps, so a cached page is never
invalidated, only left behind.

Building a page costs four queries whatever the thread's size: the thread, its latest live
event (the point a live stream resumes from), one page of root comments by the sort order
(keyset paging on an index), and the first few replies of each of those roots with the number
of the rest (one statement of index lookups through ``Comment.root``). So a page holds at most
``limit * (1 + replies)`` comments however busy a subthread is; ``replies_page`` serves the
rest of a subthread on demand.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson
from django.core.cache import cache
from django.db import connection, connections, router
from django.db.models import (
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    TextField,
)

from townhall.config import env
from townhall.core.errors import BadRequest, NotFound
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
# Replies shown under each top-level comment on a thread page; the rest come from
# ``replies_page``, so a first page is bounded whatever the busiest subthreads hold.
REPLIES_PER_ROOT = 3
MAX_REPLIES_PER_ROOT = 1000
DEFAULT_REPLIES_LIMIT = 100
MAX_REPLIES_LIMIT = 200

_ORDERING = {
    "newest": ("-created", "-id"),
    "oldest": ("created", "id"),
    "most_voted": ("-score", "-created", "-id"),
}
_REPLY_ORDER = (F("created").asc(), F("id").asc())
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
    "supporter",
)


# Page rows are read without Django's conversions, which cost more per row than everything else
# a page build does with it: datetimes come as the driver gives them (SQLite: naive, in UTC,
# which ``_page_of`` writes as UTC), the passage as its JSON text, embedded as it is.
_RAW_COLUMNS = {
    f"raw_{name}": ExpressionWrapper(F(name), output_field=TextField())
    for name in ("created", "edited", "passage")
}
_RAW_FIELDS = tuple(
    f"raw_{name}" if f"raw_{name}" in _RAW_COLUMNS else name for name in _PAGE_FIELDS
)
_NEST_PARENT = _PAGE_FIELDS.index("nest_parent_id")


# For raw SQL: Comment's columns are named after its fields' attnames (no db_column).
_COLUMNS = tuple(connection.ops.quote_name(name) for name in _PAGE_FIELDS)


def _page_rows(comments: QuerySet[Comment]) -> list[dict]:
    """``comments`` as a page shows them (``_present``), read without Django's conversions."""
    return [
        _present_values(values)
        for values in comments.annotate(**_RAW_COLUMNS).values_list(*_RAW_FIELDS)
    ]


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
    replies: int = REPLIES_PER_ROOT,
) -> Page:
    """The page of the thread at ``url``, from a cache when this version was built before.

    Precondition: ``sort`` is one of SORTS, ``limit`` within 1..MAX_LIMIT, ``only`` None or
    "passages", ``replies`` (visible replies shown per top-level comment) within
    0..MAX_REPLIES_PER_ROOT (the API schema checks them). An article with no thread yet gets an
    empty page. Publishes the version read, so that the fast path (``hotpath``) can serve the
    next requests for it.
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
    page = _kept(
        page_key(vkey, version, sort, limit, cursor, only, replies),
        lambda: _build_page(
            site, thread, url, sort=sort, limit=limit, after=after, only=only, replies=replies
        ),
    )
    versions.store().publish(vkey, version)
    return page


def _kept(key: str, build: Callable[[], Page]) -> Page:
    """The page under ``key`` from this process's copies, else Django's cache, else built (and
    kept in both)."""
    page = local_pages.get(key)
    if page is None:
        page = cache.get(key)
        if page is None:
            page = build()
            cache.set(key, page, PAGE_TTL_SECONDS)
        local_pages.put(key, page)
    return page


def page_key(
    vkey: str,
    version: int,
    sort: str,
    limit: int,
    cursor: str | None,
    only: str | None = None,
    replies: int = REPLIES_PER_ROOT,
) -> str:
    return f"thread-page:{vkey}:{version}:{sort}:{limit}:{only or ''}:{replies}:{cursor or ''}"


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


def replies_page(comment_id: int, *, cursor: str | None, limit: int) -> Page:
    """The replies below a top-level comment that a thread page left out: after ``cursor`` (a
    page's ``replies_cursor``, or this answer's ``next_cursor``; from the first reply without
    one), oldest first, up to ``limit`` visible ones, flat, each naming the comment it replies
    to. Hidden comments come as placeholders where a visible reply here is below them, even when
    they are older than the cursor (a client skips ids it already shows).

    ``comment_id`` may also name a reply: then the replies are those of its top-level comment
    (``root_id`` in the answer), so that a link to a reply the page left out can be followed.

    Cached by thread version like the pages. Precondition: ``limit`` within
    1..MAX_REPLIES_LIMIT. NotFound ``comment_not_found`` when there is no such comment;
    BadRequest ``invalid_cursor``.
    """
    after = tuple(decode_cursor(cursor, "oldest")) if cursor else None
    found = (
        Comment.objects.filter(pk=comment_id)
        .values("root_id", "thread__version", "thread__url_key", "thread__site__slug")
        .first()
    )
    if found is None:
        raise NotFound("There is no such comment.", code="comment_not_found")
    root_id = found["root_id"] or comment_id
    vkey = versions.version_key(found["thread__site__slug"], found["thread__url_key"])
    key = f"thread-replies:{vkey}:{found['thread__version']}:{root_id}:{limit}:{cursor or ''}"
    return _kept(
        key, lambda: _page_of({"root_id": root_id, **_replies_after(root_id, after, limit)})
    )


def _replies_after(root_id: int, after: tuple | None, limit: int) -> dict[str, Any]:
    rows = list(
        Comment.objects.filter(root_id=root_id).order_by(*_REPLY_ORDER).values(*_PAGE_FIELDS)
    )
    by_id = {row["id"]: row for row in rows}
    shown = {row["id"] for row in rows if row["status"] == CommentStatus.VISIBLE}
    for row in reversed(rows):
        if row["id"] in shown:
            shown.add(row["nest_parent_id"])
    later = [row for row in rows if row["id"] in shown and (after is None or _written(row) > after)]
    visible = [row for row in later if row["status"] == CommentStatus.VISIBLE]
    taken = later
    next_cursor = None
    if len(visible) > limit:
        last = visible[limit - 1]
        taken = [row for row in later if _written(row) <= _written(last)]
        next_cursor = encode_cursor(last, "oldest")
    # The hidden comments above these replies that came before the cursor, as placeholders.
    placeholders: dict[int, dict] = {}
    taken_ids = {row["id"] for row in taken}
    for row in taken:
        above = by_id.get(row["nest_parent_id"])
        while above is not None and above["id"] not in taken_ids:
            if above["status"] != CommentStatus.VISIBLE:
                placeholders[above["id"]] = above
            above = by_id.get(above["nest_parent_id"])
    return {
        "comments": [
            _present(row) for row in sorted([*placeholders.values(), *taken], key=_written)
        ],
        "more_replies": max(len(visible) - limit, 0),
        "next_cursor": next_cursor,
    }


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
    replies: int,
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
                "signin": _signin(site),
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
                "signin": _signin(site),
            },
            "comments": _with_replies(roots, replies),
            "next_cursor": next_cursor,
        }
    return _page_of(payload)


def _signin(site: Site) -> dict[str, Any]:
    """How readers may comment on this site (townhall.identity), for the widget's forms. A
    change of these settings gives every thread of the site a new version (sites.actions)."""
    return {
        "guest": site.signin_guest,
        "email": site.signin_email,
        "sso": site.signin_sso,
        "guest_requires": [
            field
            for field, required in (
                ("name", site.guest_requires_name),
                ("email", site.guest_requires_email),
            )
            if required
        ],
        "deletion": site.deletion_policy,
    }


def _page_of(payload: dict[str, Any]) -> Page:
    """The response bytes of ``payload`` with their strong ETag."""
    body = orjson.dumps(payload, option=orjson.OPT_NAIVE_UTC)
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
    rows = _page_rows(roots.order_by(*_ORDERING[sort])[: limit + 1])
    next_cursor = encode_cursor(rows[limit - 1], sort) if len(rows) > limit else None
    return rows[:limit], next_cursor


def _with_replies(roots: list[dict], per_root: int) -> list[dict]:
    """Nests under each root its first ``per_root`` visible replies (oldest first), with
    the hidden comments they reply to as placeholders, and tells how many visible replies are
    left for ``replies_page`` and from where.

    Replies come after their parents in time, so the first visible replies of a root hold every
    visible comment between them and the root: what is on the page is a whole subtree.
    """
    if not roots:
        return []
    replies, totals = _first_replies([root["id"] for root in roots], per_root)
    nodes = {root["id"]: root for root in roots}
    shown = {reply.id for reply in replies if reply.comment["status"] == CommentStatus.VISIBLE}
    for reply in reversed(replies):
        if reply.id in shown:
            shown.add(reply.nest_parent_id)
    last_shown: dict[int, dict] = {}
    shown_per_root: Counter[int] = Counter()
    for reply in replies:
        if reply.id in shown:
            nodes[reply.id] = reply.comment
            nodes[reply.nest_parent_id]["replies"].append(reply.comment)
            if reply.comment["status"] == CommentStatus.VISIBLE:
                last_shown[reply.root_id] = reply.comment
                shown_per_root[reply.root_id] += 1
    for root_id, total in totals.items():
        left = total - shown_per_root[root_id]
        if left:
            nodes[root_id]["more_replies"] = left
            if root_id in last_shown:  # else they start with the first
                nodes[root_id]["replies_cursor"] = encode_cursor(last_shown[root_id], "oldest")
    return roots


class _Reply(NamedTuple):
    id: int
    nest_parent_id: int
    root_id: int
    comment: dict  # as presented


def _first_replies(root_ids: list[int], per_root: int) -> tuple[list[_Reply], dict[int, int]]:
    """The replies a page shows under the roots ``root_ids``, oldest first: each root's first
    ``per_root`` visible replies and every hidden reply (few; placeholders at most); and
    each root's number of visible replies.

    One statement of index lookups (``comment_subtree_status``): a small ``LIMIT`` per root, the
    hidden replies, the totals. Raw SQL because the ORM has no per-group limit other than a
    window function, which SQLite computes over every reply of every root (ten times slower on
    a busy thread), and because Django's per-row conversions cost more than the query (the
    rows come out as ``_page_rows`` reads them).
    """
    # The database the rest of the page is read from (a replica, for readers' page loads).
    database = connections[router.db_for_read(Comment)]
    table = database.ops.quote_name(Comment._meta.db_table)
    columns = ", ".join(_COLUMNS)
    blanks = ", ".join(["NULL"] * len(_COLUMNS))
    marks = ", ".join(["%s"] * len(root_ids))
    visible = f"'{CommentStatus.VISIBLE.value}'"
    # Each hidden status by name, so that they too are index lookups (root_id = ? AND status = ?).
    hidden = ", ".join(f"'{status}'" for status in CommentStatus.values if status != "visible")
    # Only quoted names and constants are written into the SQL; values are parameters. Kept
    # short: Django's SQLite backend rewrites the whole text for every execution.
    first = (
        f"SELECT * FROM (SELECT id FROM {table} WHERE root_id = %s AND status = {visible}"  # noqa: S608
        f" ORDER BY created, id LIMIT {int(per_root)}) AS f"
    )
    shown = f"SELECT {columns}, root_id, NULL FROM {table} WHERE id IN ("  # noqa: S608
    shown += " UNION ALL ".join([first] * len(root_ids))
    shown += f") OR root_id IN ({marks}) AND status IN ({hidden}) UNION ALL "
    counts = (
        f"SELECT {blanks}, root_id, COUNT(*) FROM {table}"  # noqa: S608
        f" WHERE root_id IN ({marks}) AND status = {visible} GROUP BY root_id"
    )
    with database.cursor() as cursor:
        if per_root:
            cursor.execute(shown + counts, [*root_ids, *root_ids, *root_ids])
        else:  # no reply to show, so no hidden one above one either: only the totals
            cursor.execute(counts, root_ids)
        results = cursor.fetchall()
    replies: list[_Reply] = []
    totals: dict[int, int] = {}
    for values in results:
        if values[-1] is not None:
            totals[values[-2]] = values[-1]
        else:
            replies.append(
                _Reply(values[0], values[_NEST_PARENT], values[-2], _present_values(values))
            )
    replies.sort(key=lambda reply: (reply.comment["created"], reply.id))
    return replies, totals


def _written(row: dict) -> tuple:
    return row["created"], row["id"]


def _present_values(values: Sequence) -> dict:
    """A comment as a page shows it, from its ``_PAGE_FIELDS`` values (more may follow)."""
    (
        pk,
        parent_id,
        _nest_parent_id,
        depth,
        passage,
        author_name,
        body_html,
        status,
        upvotes,
        downvotes,
        score,
        created,
        edited,
        featured,
        supporter,
    ) = values[: len(_PAGE_FIELDS)]
    visible = status == CommentStatus.VISIBLE
    shown = {
        "id": pk,
        "parent_id": parent_id,
        "depth": depth,
        "author_name": author_name if visible else None,
        "html": body_html if visible else "",
        "status": status,
        "created": created,
        "edited": edited,
        "upvotes": upvotes,
        "downvotes": downvotes,
        "score": score,
        "featured": bool(featured) and visible,
        # Kept on placeholders too, so replies under a deleted passage comment stay in place.
        # Read raw, it is the JSON text.
        "passage": orjson.Fragment(passage) if isinstance(passage, str) else passage,
        "replies": [],
    }
    if supporter and visible:  # the author's opt-in badge (townhall.support); rare, so only then
        shown["supporter"] = True
    return shown


def _present(row: dict) -> dict:
    return _present_values([row[field] for field in _PAGE_FIELDS])


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
    created = row["created"]
    # Read raw from SQLite, a datetime is naive and in UTC (see _page_rows).
    iso = created.isoformat() + ("+00:00" if created.tzinfo is None else "")
    values: list = [iso, row["id"]]
    if sort == "most_voted":
        values.insert(0, row["score"])
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> list:
    """The position a cursor names; BadRequest ``invalid_cursor`` if it is not one of ours.

    Cursors come back from clients, so every value is checked as if hand-made: a time without
    its zone or beyond what a database can hold, an id or a score no column can hold, are all
    the same 400 (they were 500s, found by hand-made cursors in tests)."""
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if sort == "most_voted":
            score, created, pk = values
            parsed: list = [_cursor_int(score), _cursor_time(created), _cursor_int(pk)]
        else:
            created, pk = values
            parsed = [_cursor_time(created), _cursor_int(pk)]
    except (ValueError, TypeError, OverflowError, orjson.JSONDecodeError):
        raise BadRequest(
            "The cursor is not valid for this sort order.", code="invalid_cursor", field="cursor"
        ) from None
    return parsed


CURSOR_INT_LIMIT = 2**63  # a bigint column's range, on every database


def _cursor_int(value) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(value)
    if not -CURSOR_INT_LIMIT <= value < CURSOR_INT_LIMIT:
        raise OverflowError(value)
    return value


def _cursor_time(value) -> datetime:
    if not isinstance(value, str):
        raise TypeError(value)
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(value)
    return moment.astimezone(UTC)  # OverflowError beyond year 1 or 9999 in UTC


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
