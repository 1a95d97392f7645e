"""Reads for moderators: which sites they moderate, the queue, search, bans, the audit log.

Every id from a request is resolved through an ``access_*`` function with the moderator: a
comment, ban or entry of a site they do not moderate is "not found", like one that does not
exist.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from townhall.core.errors import NotFound
from townhall.discussions.models import Comment, CommentStatus
from townhall.moderation.models import AuditAction, AuditEntry, Ban, SiteModerator
from townhall.sites.models import Site

QUEUES = {
    "pending": "Waiting",
    "flagged": "Reported",
    "spam": "Spam",
    "rejected": "Rejected",
}
SEARCH_LIMIT = 100


def moderated_sites(user: Any) -> QuerySet[Site]:
    """The sites ``user`` moderates: all for a superuser, else those they were given."""
    if not user.is_authenticated or not user.is_active:
        return Site.objects.none()
    if user.is_superuser:
        return Site.objects.order_by("slug")
    return Site.objects.filter(
        pk__in=SiteModerator.objects.filter(user=user).values("site_id")
    ).order_by("slug")


def access_moderated_site(user: Any, slug: str) -> Site:
    site = moderated_sites(user).filter(slug=slug).first()
    if site is None:
        raise NotFound("You moderate no site by that name.", code="unknown_site")
    return site


def access_moderated_comment(user: Any, site: Site, comment_id: int) -> Comment:
    """A comment of ``site``. Precondition: ``site`` came from ``access_moderated_site``."""
    comment = (
        Comment.objects.select_related("thread__site", "author")
        .filter(pk=comment_id, thread__site=site)
        .first()
    )
    if comment is None:
        raise NotFound("There is no such comment on this site.", code="comment_not_found")
    return comment


def access_audit_entry(user: Any, site: Site, entry_id: int) -> AuditEntry:
    entry = (
        AuditEntry.objects.select_related("comment__thread__site", "ban")
        .filter(pk=entry_id, site=site)
        .first()
    )
    if entry is None:
        raise NotFound("There is no such entry in this site's log.", code="entry_not_found")
    return entry


def access_ban(user: Any, site: Site, ban_id: int) -> Ban:
    ban = Ban.objects.filter(pk=ban_id, site=site).first()
    if ban is None:
        raise NotFound("There is no such ban on this site.", code="ban_not_found")
    return ban


def _with_context(comments: QuerySet[Comment]) -> QuerySet[Comment]:
    # The parent chain that ``thread_context`` reads, joined in, so that a page of the queue
    # costs the same queries whatever it holds.
    return comments.select_related("thread", "author", "parent__parent__parent")


def queue(site: Site, name: str) -> QuerySet[Comment]:
    """One of QUEUES: waiting comments oldest first (fair to their authors), reported ones by
    number of reports, spam and rejected newest first."""
    comments = Comment.objects.filter(thread__site=site)
    if name == "pending":
        comments = comments.filter(status=CommentStatus.PENDING).order_by("created", "id")
    elif name == "flagged":
        comments = comments.filter(status=CommentStatus.VISIBLE, open_flags__gt=0).order_by(
            "-open_flags", "created"
        )
    elif name == "spam":
        comments = comments.filter(status=CommentStatus.SPAM).order_by("-created", "-id")
    elif name == "rejected":
        comments = comments.filter(status=CommentStatus.REJECTED).order_by("-created", "-id")
    else:
        raise NotFound(f"There is no queue {name!r}.", code="unknown_queue")
    return _with_context(comments)


def queue_counts(site: Site) -> dict[str, int]:
    return {name: queue(site, name).count() for name in QUEUES}


def search_comments(site: Site, text: str, status: str | None = None) -> QuerySet[Comment]:
    """Comments whose text, author name or author email contain ``text`` (any case), newest
    first, at most SEARCH_LIMIT."""
    comments = Comment.objects.filter(thread__site=site).exclude(status=CommentStatus.DELETED)
    text = text.strip()
    if text:
        comments = comments.filter(
            Q(body__icontains=text)
            | Q(author_name__icontains=text)
            | Q(author__email__iexact=text)
            | Q(thread__title__icontains=text)
        )
    if status in CommentStatus.values:
        comments = comments.filter(status=status)
    return _with_context(comments).order_by("-created", "-id")[:SEARCH_LIMIT]


def thread_context(comment: Comment) -> list[Comment]:
    """What a moderator reads a reply with: the comments it answers, up to three, oldest
    first."""
    chain: list[Comment] = []
    parent = comment.parent
    while parent is not None:
        chain.append(parent)
        if len(chain) == 3:
            break  # (reading one more ``.parent`` would cost a query)
        parent = parent.parent
    return list(reversed(chain))


def bans(site: Site) -> QuerySet[Ban]:
    """The site's bans, newest first (``ban_in_force`` tells which still hold)."""
    return Ban.objects.filter(site=site).select_related("created_by").order_by("-created")


def ban_in_force(ban: Ban) -> bool:
    return ban.lifted is None and (ban.expires is None or ban.expires > timezone.now())


def audit_log(site: Site) -> QuerySet[AuditEntry]:
    return AuditEntry.objects.filter(site=site).select_related("actor", "comment", "ban")


def can_undo(entry: AuditEntry) -> bool:
    """Whether ``actions.do_undo`` would undo this entry now (for showing an Undo button; the
    action decides). Precondition: ``entry.comment`` and ``entry.ban`` were selected with it."""
    if entry.undone:
        return False
    if entry.action in (
        AuditAction.APPROVE,
        AuditAction.REJECT,
        AuditAction.SPAM,
        AuditAction.HOLD,
    ):
        comment = entry.comment
        return bool(entry.from_status) and comment is not None and comment.status == entry.to_status
    if entry.action == AuditAction.FEATURE:
        return entry.comment is not None
    if entry.action == AuditAction.UNFEATURE:
        return entry.comment is not None and entry.comment.status == CommentStatus.VISIBLE
    if entry.action == AuditAction.BAN:
        return entry.ban is not None and entry.ban.lifted is None
    return False
