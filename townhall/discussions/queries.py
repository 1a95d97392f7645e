"""Reads that take ids or tokens from readers."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from townhall.core.errors import BadRequest, Forbidden, NotFound, Unauthorized
from townhall.discussions.models import Comment, CommentStatus, Thread
from townhall.discussions.pages import resolve_article
from townhall.identity.queries import access_commenter
from townhall.sites.models import Site

MAX_COUNT_URLS = 100


def access_comment(comment_id: int) -> Comment:
    """A comment readers can see (to vote on it), or NotFound ``comment_not_found``."""
    comment = (
        Comment.objects.select_related("thread__site")
        .filter(pk=comment_id, status=CommentStatus.VISIBLE)
        .first()
    )
    if comment is None:
        raise NotFound("There is no such comment.", code="comment_not_found")
    return comment


def access_own_comment(comment_id: int, token: str | None) -> Comment:
    """A comment the token's holder wrote, while the site's edit window is open.

    Unauthorized for a missing, bad or expired token; Forbidden when the token is someone
    else's or the window has closed; NotFound for no such (or a deleted) comment.
    """
    comment = (
        Comment.objects.select_related("thread__site")
        .filter(pk=comment_id)
        .exclude(status=CommentStatus.DELETED)
        .first()
    )
    if comment is None:
        raise NotFound("There is no such comment.", code="comment_not_found")
    if not token:
        raise Unauthorized(
            "Editing needs the token given when the comment was posted.", code="token_required"
        )
    site = comment.thread.site
    commenter = access_commenter(token, site_id=site.pk)
    if comment.author_id != commenter.pk:
        raise Forbidden("This comment was written by someone else.", code="not_author")
    closes = comment.created + timedelta(seconds=site.edit_window_seconds)
    if timezone.now() > closes:
        raise Forbidden(
            "The time to edit or delete this comment is over.", code="edit_window_closed"
        )
    return comment


def thread_counts(site: Site, urls: list[str]) -> dict[str, int]:
    """Visible comment counts for article URLs, as given; 0 for an article with no thread.

    Precondition: at most MAX_COUNT_URLS URLs (the schema checks). Malformed URLs count 0.
    """
    keys: dict[str, str] = {}
    for url in urls:
        try:
            keys[url] = resolve_article(url).key
        except BadRequest:
            continue
    found = dict(
        Thread.objects.filter(site=site, url_key__in=set(keys.values())).values_list(
            "url_key", "comment_count"
        )
    )
    return {url: found.get(keys.get(url, ""), 0) for url in urls}
