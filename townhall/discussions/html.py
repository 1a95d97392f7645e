"""Server-rendered threads: the JSON thread page as HTML with schema.org microdata.

Search engines and readers without JavaScript see the discussion in this markup; the widget
takes the same element over when it loads (``data-townhall-thread`` on the section,
``id="townhall-comment-<id>"`` on each comment).

The HTML is made from the JSON page (``pages.thread_page``), never from the database, and kept
in Django's cache under a key holding the JSON page's ETag. That ETag changes with everything a
reader can see, so a cached fragment is never invalidated, only left behind, like the pages
themselves. A warm request costs the JSON page lookup (two queries, the page from memory) and
one cache get.

Comment bodies are inserted as they are: they were rendered from Markdown and sanitized with nh3
when they were written (``rendering.py``). Everything else is escaped by the template.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from functools import cache as once
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
from django.core.cache import cache
from django.template.loader import render_to_string

from townhall.discussions import pages
from townhall.discussions.models import CommentStatus
from townhall.sites.models import Site

# Bump when the context given to the templates changes; template edits are picked up by
# themselves (their bytes are part of the cache key).
RENDER_VERSION = 1
TEMPLATE = "townhall/thread.html"
_TEMPLATE_DIR = Path(__file__).parent / "templates" / "townhall"
_NEXT_LABELS = {"newest": "Older comments", "oldest": "Newer comments"}


@dataclass(frozen=True)
class HtmlPage:
    """A rendered thread fragment (UTF-8) with its own strong ETag, and what a full page around
    it needs to know about the thread."""

    etag: str
    body: bytes
    thread_id: int | None = None
    url: str = ""
    title: str = ""
    comment_count: int = 0


def thread_html(
    site: Site,
    url: str,
    *,
    sort: str = "newest",
    limit: int = pages.DEFAULT_LIMIT,
    cursor: str | None = None,
    only: str | None = None,
    replies: int = pages.REPLIES_PER_ROOT,
) -> HtmlPage:
    """The thread at ``url`` as an HTML fragment, from the cache when this version was rendered.

    Same preconditions and errors as ``pages.thread_page`` (``sort`` in SORTS, ``limit`` within
    1..MAX_LIMIT, ``replies`` within 0..MAX_REPLIES_PER_ROOT; BadRequest ``invalid_url`` /
    ``invalid_cursor``).
    """
    page = pages.thread_page(
        site, url, sort=sort, limit=limit, cursor=cursor, only=only, replies=replies
    )
    key = html_key(site.slug, page.etag, sort, limit, cursor, only, replies)
    html = cache.get(key)
    if html is None:
        options = _options(sort=sort, limit=limit, only=only, replies=replies)
        html = _render(site, orjson.loads(page.body), options, cursor=cursor, sort=sort)
        cache.set(key, html, pages.PAGE_TTL_SECONDS)
    return html


def html_key(
    site_slug: str,
    json_etag: str,
    sort: str,
    limit: int,
    cursor: str | None,
    only: str | None = None,
    replies: int = pages.REPLIES_PER_ROOT,
) -> str:
    # The JSON ETag already names the content; the request's own parameters are in the key too
    # because the "next page" link repeats them. Hashed, since a cursor comes from the reader.
    request = f"{site_slug}\0{sort}\0{limit}\0{cursor or ''}\0{only or ''}\0{replies}"
    digest = hashlib.blake2b(request.encode(), digest_size=12).hexdigest()
    content = json_etag.strip('"')
    return f"thread-html:{template_version()}:{content}:{digest}"


@once
def template_version() -> str:
    """Changes with RENDER_VERSION and with the bytes of every template in this folder."""
    digest = hashlib.blake2b(str(RENDER_VERSION).encode(), digest_size=6)
    for path in sorted(_TEMPLATE_DIR.glob("*.html")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _options(*, sort: str, limit: int, only: str | None, replies: int) -> dict:
    """The parameters of this page that differ from the defaults, for links to related pages."""
    params: dict[str, str | int] = {}
    if sort != "newest":
        params["sort"] = sort
    if limit != pages.DEFAULT_LIMIT:
        params["limit"] = limit
    if only:
        params["only"] = only
    if replies != pages.REPLIES_PER_ROOT:
        params["replies"] = replies
    return params


def _render(
    site: Site, payload: dict[str, Any], options: dict, *, cursor: str | None, sort: str
) -> HtmlPage:
    thread = payload["thread"]
    query = {"site": site.slug, "url": thread["url"], **options}
    next_query = None
    if payload["next_cursor"]:
        next_query = urlencode({**query, "cursor": payload["next_cursor"]})
    # Readers without JavaScript see a top-level comment's other replies on this same page
    # with every reply shown.
    all_replies = {**query, "replies": pages.MAX_REPLIES_PER_ROOT}
    if cursor:
        all_replies["cursor"] = cursor
    more_query = urlencode(all_replies)
    context = {
        "thread": thread,
        "comments": [_comment(comment) for comment in payload["comments"]],
        "more_query": more_query,
        "next_query": next_query,
        "next_label": _NEXT_LABELS.get(sort, "More comments"),
    }
    body = render_to_string(TEMPLATE, context).encode()
    etag = '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
    return HtmlPage(
        etag=etag,
        body=body,
        thread_id=thread["id"],
        url=thread["url"],
        title=thread["title"],
        comment_count=thread["comment_count"],
    )


def _comment(comment: dict[str, Any]) -> dict[str, Any]:
    """A JSON comment with what the template shows: datetimes parsed, replies prepared."""
    return {
        **comment,
        "visible": comment["status"] == CommentStatus.VISIBLE,
        "created_at": datetime.fromisoformat(comment["created"]),
        "edited_at": datetime.fromisoformat(comment["edited"]) if comment["edited"] else None,
        "replies": [_comment(reply) for reply in comment["replies"]],
    }
