"""Standalone thread pages: ``/t/<site>/?url=ARTICLE_URL`` as a whole HTML document.

For readers without JavaScript, for search engines, and as the target of the thread fragment's
"next page" link. The fragment is ``html.thread_html``'s (cached by thread version); the widget's
script at the end takes it over. Errors are plain HTML pages (400, 404), never a 500.
"""

from __future__ import annotations

import hashlib
import logging
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import get_conditional_response
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_safe

from townhall.core.errors import BadRequest, NotFound, TownhallError
from townhall.discussions import pages
from townhall.discussions.hotpath import apply_thread_cache_headers
from townhall.discussions.html import thread_html
from townhall.sites.models import Site
from townhall.sites.queries import access_site
from townhall.widget.assets import embed_script_url

logger = logging.getLogger(__name__)

HTML = "text/html; charset=utf-8"
_HEADINGS = {400: "Bad request", 404: "Not found"}


@require_safe
def thread_page(request: HttpRequest, slug: str) -> HttpResponse:
    """The discussion of one article of site ``slug``: ``?url=`` (required), ``sort``,
    ``limit``, ``replies`` and ``cursor`` as in ``GET /api/v1/threads``."""
    try:
        site = access_site(slug)
        return _thread_page(request, site)
    except TownhallError as error:
        return _error_page(error)


def _thread_page(request: HttpRequest, site: Site) -> HttpResponse:
    url = request.GET.get("url", "").strip()
    if not url:
        raise BadRequest(
            f"Which article? Give its address: /t/{site.slug}/?url=https://…", code="missing_url"
        )
    article = pages.resolve_article(url)
    if not site.allows_origin(article.origin):
        raise NotFound(
            f"Site {site.slug!r} has no articles at {article.origin}.", code="url_not_allowed"
        )
    sort = request.GET.get("sort", "newest")
    if sort not in pages.SORTS:
        raise BadRequest(f"Comments are sorted by {', '.join(pages.SORTS)}.", code="invalid_sort")
    limit = _number(request.GET.get("limit"), "limit", pages.DEFAULT_LIMIT, 1, pages.MAX_LIMIT)
    replies = _number(
        request.GET.get("replies"),
        "replies",
        pages.REPLIES_PER_ROOT,
        0,
        pages.MAX_REPLIES_PER_ROOT,
    )
    cursor = request.GET.get("cursor") or None
    page = thread_html(
        site, article.canonical_url, sort=sort, limit=limit, cursor=cursor, replies=replies
    )

    article_url = page.url or article.canonical_url
    params: dict[str, str | int] = {"url": article_url}
    if sort != "newest":
        params["sort"] = sort
    if limit != pages.DEFAULT_LIMIT:
        params["limit"] = limit
    if replies != pages.REPLIES_PER_ROOT:
        params["replies"] = replies
    if cursor:
        params["cursor"] = cursor
    path = reverse("thread-page", args=[site.slug]) + "?" + urlencode(params)
    context = {
        "site": site,
        "title": page.title or article_url,
        "article_url": article_url,
        "canonical": request.build_absolute_uri(path),
        "indexable": page.comment_count > 0,
        "fragment": mark_safe(page.body.decode()),  # noqa: S308 (escaped by html.thread_html)
        "script_url": _script_url(),
    }
    body = render_to_string("townhall/thread_page.html", context).encode()
    etag = '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
    response = get_conditional_response(request, etag=etag) or HttpResponse(body, content_type=HTML)
    response.headers["ETag"] = etag
    apply_thread_cache_headers(response)
    return response


def _number(text: str | None, name: str, default: int, low: int, high: int) -> int:
    if text is None:
        return default
    if not (text.isascii() and text.isdigit() and len(text) <= 4) or not (low <= int(text) <= high):
        raise BadRequest(
            f"{name} is a number from {low} to {high}.", code=f"invalid_{name}", field=name
        )
    return int(text)


def _script_url() -> str | None:
    """The widget's script; without it (a broken install) the page still shows the thread."""
    try:
        return embed_script_url()
    except OSError:
        logger.exception("The widget's embed script could not be read.")
        return None


def _error_page(error: TownhallError) -> HttpResponse:
    status = error.status if 400 <= error.status < 500 else 400
    context = {"heading": _HEADINGS.get(status, "Not available"), "message": error.message}
    return HttpResponse(
        render_to_string("townhall/thread_error.html", context), status=status, content_type=HTML
    )
