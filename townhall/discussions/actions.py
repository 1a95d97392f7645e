"""Every write to threads, comments and votes.

Each action owns its transaction. What a reader can see changes only together with the thread's
``version``, which is how cached thread pages go stale (see ``pages``).
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from townhall.core.db import insert, select_one
from townhall.core.errors import BadRequest, Forbidden, NotFound, Unprocessable
from townhall.discussions import versions
from townhall.discussions.models import Comment, CommentStatus, Thread, Vote
from townhall.discussions.pages import Article, present_comment, resolve_article
from townhall.discussions.rendering import normalize_body, render_markdown
from townhall.discussions.signals import comment_held, comment_published
from townhall.identity.actions import do_create_guest, do_update_guest
from townhall.identity.models import Commenter
from townhall.identity.tokens import make_commenter_token
from townhall.live.events import record_event
from townhall.moderation import pipeline
from townhall.moderation.audit import audit
from townhall.moderation.models import AuditAction
from townhall.sites.models import ModerationMode, Site

ANONYMOUS_NAME = "Anonymous"
MAX_NAME_CHARS = 80
MAX_TITLE_CHARS = 300


# A post's Idempotency-Key: 16 to 64 URL-safe characters (the widget sends 32 random hex digits).
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")


@dataclass(frozen=True)
class PostedComment:
    comment: Comment
    commenter: Commenter
    token: str
    replayed: bool = False  # an earlier post with the same Idempotency-Key, answered again


def do_post_comment(
    site: Site,
    *,
    url: str,
    body: str,
    title: str = "",
    parent_id: int | None = None,
    author_name: str | None = None,
    author_email: str | None = None,
    commenter: Commenter | None = None,
    client_fingerprint: str = "",
    passage: dict | None = None,
    client_ip: str = "",
    user_agent: str = "",
    idempotency_key: str = "",
) -> PostedComment:
    """Stores a new comment, creating its thread on the first comment of an allowed article.

    With an ``idempotency_key``, a post that repeats an earlier one of the site with the same
    key (a client retrying after an answer it never got, or a 503 whose COMMIT had in fact
    reached the database) stores nothing and answers the earlier comment, as it is now.

    Precondition: ``commenter``, when given, was resolved from a valid token for ``site``.
    The moderation pipeline runs first (``moderation.pipeline``): it may refuse the comment
    (Forbidden ``banned``, BadRequest ``comment_rejected``), hold it or file it as spam; else
    it is visible at once or pending, by the site's moderation mode. ``client_ip`` and
    ``user_agent`` go to Akismet for sites that set a key, and are not stored.
    """
    article = resolve_article(url)
    if not site.allows_origin(article.origin):
        raise Forbidden(
            f"Articles at {article.origin} are not part of site {site.slug!r}.",
            code="url_not_allowed",
            field="url",
        )
    text = _clean_body(site, body)
    digest = idempotency_digest(site, idempotency_key) if idempotency_key else None
    if digest is not None and (earlier := _replay(digest, text, parent_id)) is not None:
        return earlier
    if commenter is not None and commenter.is_signed_in:
        # A signed-in reader writes under the name and email of their identity.
        author_name, author_email = None, None
    name = _clean_name(author_name, commenter)
    email = _clean_email(author_email, commenter)
    html = render_markdown(text)
    verdict = pipeline.run_pipeline(
        pipeline.Submission(
            site=site,
            text=text,
            html=html,
            commenter=commenter,
            email=email,
            client_fingerprint=client_fingerprint,
            client_ip=client_ip,
            user_agent=user_agent,
            author_name=name,
            article_url=article.canonical_url,
        )
    )
    _refuse(verdict)
    # Everything that only reads is done before the transaction: on SQLite it holds the one
    # write lock of the database, which other posts wait for.
    thread = _find_thread(site, article)
    if thread is not None and not thread.is_open:
        raise Forbidden("This discussion is closed.", code="thread_closed")
    parent = _reply_target(thread, parent_id) if parent_id is not None else None
    if passage is not None and parent is not None:
        raise BadRequest(
            "Only a top-level comment is about a passage; replies follow their thread.",
            code="passage_on_reply",
            field="passage",
        )
    status = _initial_status(site, commenter, verdict)
    comment = Comment(
        author_name=name,
        body=text,
        body_html=html,
        status=status,
        client_fingerprint=client_fingerprint,
        passage=passage,
        moderation=verdict.record(),
        created=timezone.now(),
        supporter=commenter is not None and commenter.supporter,
        idempotency_key=digest,
    )
    _place_in_tree(comment, parent, max_depth=site.max_depth)
    try:
        with transaction.atomic():
            if thread is None:
                thread = _get_or_create_thread(site, article, title=title)
            else:
                _check_still_open(thread, parent)
            thread.site = site
            if commenter is None:
                commenter = do_create_guest(site, display_name=name, email=email)
            else:
                do_update_guest(commenter, display_name=name, email=email)
            comment.thread, comment.author = thread, commenter
            insert(comment)
            if status == CommentStatus.VISIBLE:
                bump_thread(thread, count_delta=1, event=shown_event(comment))
                published = comment.pk
                transaction.on_commit(
                    lambda: comment_published.send(
                        sender=Comment, comment_id=published, thread_id=thread.pk
                    )
                )
            else:
                audit(
                    site.pk,
                    AuditAction.HOLD,
                    comment=comment,
                    to_status=status,
                    detail={"reasons": verdict.reasons},
                )
                held = comment.pk
                transaction.on_commit(lambda: comment_held.send(sender=Comment, comment_id=held))
    except IntegrityError:
        # The same key posted at the same moment by another request, which stored it first.
        if digest is not None and (earlier := _replay(digest, text, parent_id)) is not None:
            return earlier
        raise
    return PostedComment(
        comment=comment, commenter=commenter, token=make_commenter_token(commenter)
    )


def idempotency_digest(site: Site, key: str) -> str:
    """What is stored of a post's Idempotency-Key: its SHA-256 with the site's id. The key is a
    capability (its replay answers the comment's edit token), so it is not kept as sent."""
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise BadRequest(
            "Idempotency-Key must be 16 to 64 letters, digits, '-' or '_'.",
            code="invalid_idempotency_key",
            field="Idempotency-Key",
        )
    return hashlib.sha256(f"{site.pk}:{key}".encode()).hexdigest()


def _replay(digest: str, text: str, parent_id: int | None) -> PostedComment | None:
    """The earlier post with this key, answered again; None if there is none. A key sent again
    with another comment (a different text, before any edit, or another parent) is refused."""
    earlier = Comment.objects.select_related("author").filter(idempotency_key=digest).first()
    if earlier is None:
        return None
    reused = earlier.parent_id != parent_id or (earlier.edited is None and earlier.body != text)
    if reused or earlier.author is None:
        raise Unprocessable(
            "This Idempotency-Key was used for another comment; send a new key for a new one.",
            code="idempotency_key_reused",
            field="Idempotency-Key",
        )
    return PostedComment(
        comment=earlier,
        commenter=earlier.author,
        token=make_commenter_token(earlier.author),
        replayed=True,
    )


def do_open_thread(site: Site, *, url: str, title: str = "") -> Thread:
    """The thread of an allowed article, created if it has none yet (e.g. to subscribe to it)."""
    article = resolve_article(url)
    if not site.allows_origin(article.origin):
        raise Forbidden(
            f"Articles at {article.origin} are not part of site {site.slug!r}.",
            code="url_not_allowed",
            field="url",
        )
    with transaction.atomic():
        return _get_or_create_thread(site, article, title=title)


def preview_comment_html(site: Site, body: str) -> str:
    """The HTML a comment with this body would show ("" for an empty body); stores nothing."""
    if not body.strip():
        return ""
    return render_markdown(_clean_body(site, body))


def do_edit_comment(comment: Comment, *, body: str, client_fingerprint: str = "") -> Comment:
    """Replaces a comment's body. Precondition: the caller may edit it (``access_own_comment``).

    The new text passes the moderation pipeline like a new comment: refused, or held (a visible
    comment then leaves the thread until a moderator approves it).
    """
    site = comment.thread.site
    text = _clean_body(site, body)
    html = render_markdown(text)
    verdict = pipeline.run_pipeline(
        pipeline.Submission(
            site=site,
            text=text,
            html=html,
            commenter=comment.author,
            client_fingerprint=client_fingerprint,
            author_name=comment.author_name,
            article_url=comment.thread.url,
            editing=comment,
        )
    )
    _refuse(verdict)
    with transaction.atomic():
        locked = (
            Comment.objects.select_for_update(of=("self",))
            .select_related("thread__site")
            .get(pk=comment.pk)
        )
        if locked.status == CommentStatus.DELETED:
            raise NotFound("The comment has been deleted.", code="comment_not_found")
        locked.body, locked.body_html, locked.edited = text, html, timezone.now()
        locked.moderation = verdict.record()
        locked.save(update_fields=["body", "body_html", "edited", "moderation"])
        held = {pipeline.HOLD: CommentStatus.PENDING, pipeline.SPAM: CommentStatus.SPAM}
        if verdict.action in held and locked.status in (
            CommentStatus.VISIBLE,
            CommentStatus.PENDING,
        ):
            before = set_comment_status(locked, held[verdict.action])
            audit(
                site.pk,
                AuditAction.HOLD,
                comment=locked,
                from_status=before,
                to_status=locked.status,
                detail={"reasons": verdict.reasons, "edit": True},
            )
        elif locked.status == CommentStatus.VISIBLE:
            bump_thread(locked.thread, count_delta=0, event=changed_event(locked))
    return locked


def set_comment_status(locked: Comment, status: str) -> str:
    """Moves a comment to ``status``, keeping its thread's count and version right; a comment
    that becomes visible is announced once the transaction commits (notifications). Returns
    the status it had.

    Precondition: inside a transaction, ``locked`` selected for update with its thread.
    """
    before = locked.status
    if before == status:
        return before
    locked.status = status
    locked.save(update_fields=["status"])
    was_visible, is_visible = before == CommentStatus.VISIBLE, status == CommentStatus.VISIBLE
    if was_visible or is_visible:
        bump_thread(
            locked.thread,
            count_delta=int(is_visible) - int(was_visible),
            event=shown_event(locked) if is_visible else removed_event(locked),
        )
    if is_visible:
        published, thread_id = locked.pk, locked.thread_id
        transaction.on_commit(
            lambda: comment_published.send(
                sender=Comment, comment_id=published, thread_id=thread_id
            )
        )
    return before


def _refuse(verdict: pipeline.Verdict) -> None:
    """Raises the reader-facing error of a refused comment."""
    if verdict.action != pipeline.REJECT:
        return
    if verdict.ban is not None:
        until = verdict.ban.expires
        message = "You can no longer comment on this site" + (
            f" until {until:%Y-%m-%d %H:%M} UTC." if until else "."
        )
        raise Forbidden(message, code="banned")
    raise BadRequest(
        "This comment contains words this site does not allow.",
        code="comment_rejected",
        field="body",
    )


def do_delete_comment(comment: Comment) -> Comment:
    """Deletes a comment. Its text and author go at once; the row stays as a placeholder so the
    replies below it keep their place. Precondition: as for ``do_edit_comment``."""
    with transaction.atomic():
        locked = Comment.objects.select_for_update().get(pk=comment.pk)
        if locked.status == CommentStatus.DELETED:
            return locked
        was_visible = locked.status == CommentStatus.VISIBLE
        locked.status = CommentStatus.DELETED
        locked.body, locked.body_html, locked.author_name = "", "", ""
        locked.edited = timezone.now()
        locked.save(update_fields=["status", "body", "body_html", "author_name", "edited"])
        if was_visible:
            bump_thread(comment.thread, count_delta=-1, event=removed_event(locked))
    return locked


def do_vote_comment(comment: Comment, *, voter_key: str, value: int) -> Comment:
    """Sets this voter's vote on a comment to +1, -1, or none (0), keeping the counts exact.

    The comment row is locked for the change, so concurrent votes on one comment are applied one
    after another and the counts always equal the vote rows.
    """
    if value not in (-1, 0, 1):
        raise BadRequest("A vote is 1, -1 or 0.", code="invalid_vote", field="value")
    with transaction.atomic():
        locked = Comment.objects.select_for_update().get(pk=comment.pk)
        if locked.status != CommentStatus.VISIBLE:
            raise NotFound("There is no such comment.", code="comment_not_found")
        existing = Vote.objects.filter(comment=locked, voter_key=voter_key).first()
        old = existing.value if existing else 0
        if old == value:
            return locked
        if existing is not None and value == 0:
            existing.delete()
        elif existing is not None:
            existing.value = value
            existing.save(update_fields=["value", "updated"])
        else:
            Vote.objects.create(comment=locked, voter_key=voter_key, value=value)
        up = (value == 1) - (old == 1)
        down = (value == -1) - (old == -1)
        Comment.objects.filter(pk=locked.pk).update(
            upvotes=F("upvotes") + up,
            downvotes=F("downvotes") + down,
            score=F("score") + value - old,
        )
        locked.refresh_from_db(fields=["upvotes", "downvotes", "score"])
        counts = {"upvotes": locked.upvotes, "downvotes": locked.downvotes, "score": locked.score}
        bump_thread(comment.thread, count_delta=0, event=("vote", {"id": locked.pk, **counts}))
    return locked


def _clean_body(site: Site, body: str) -> str:
    text = normalize_body(body)
    if not text:
        raise BadRequest("The comment is empty.", code="empty_body", field="body")
    if len(text) > site.max_comment_chars:
        raise BadRequest(
            f"The comment is {len(text)} characters long; the limit is {site.max_comment_chars}.",
            code="body_too_long",
            field="body",
        )
    return text


def _clean_name(author_name: str | None, commenter: Commenter | None) -> str:
    name = " ".join((author_name or "").split())
    if not name:
        return commenter.display_name if commenter else ANONYMOUS_NAME
    if len(name) > MAX_NAME_CHARS:
        raise BadRequest(
            f"A name is at most {MAX_NAME_CHARS} characters.",
            code="name_too_long",
            field="author_name",
        )
    return name


def _clean_email(author_email: str | None, commenter: Commenter | None) -> str:
    if author_email is None:
        return commenter.email if commenter else ""
    email = author_email.strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise BadRequest(
                "That is not an email address.", code="invalid_email", field="author_email"
            ) from None
    return email


def _find_thread(site: Site, article: Article) -> Thread | None:
    return select_one(Thread, "site_id = %s AND url_key = %s", [site.pk, article.key])


def _get_or_create_thread(site: Site, article: Article, *, title: str) -> Thread:
    title = " ".join(title.split())[:MAX_TITLE_CHARS]
    thread = Thread.objects.filter(site=site, url_key=article.key).first()
    if thread is not None:
        return thread
    try:
        # A savepoint, so losing a race with another first comment leaves this transaction usable.
        with transaction.atomic():
            return Thread.objects.create(
                site=site, url_key=article.key, url=article.canonical_url, title=title
            )
    except IntegrityError:
        return Thread.objects.get(site=site, url_key=article.key)


# What a reply needs of the comment it answers (``_place_in_tree``).
_PARENT_FIELDS = ("id", "thread_id", "status", "root_id", "nest_parent_id", "depth")


def _reply_target(thread: Thread | None, parent_id: int) -> Comment:
    parent = None
    if thread is not None:
        parent = select_one(
            Comment, "id = %s AND thread_id = %s", [parent_id, thread.pk], fields=_PARENT_FIELDS
        )
    if parent is None:
        raise BadRequest(
            "The comment replied to is not in this thread.",
            code="invalid_parent",
            field="parent_id",
        )
    if parent.status != CommentStatus.VISIBLE:
        raise _parent_not_visible()
    return parent


def _parent_not_visible() -> BadRequest:
    return BadRequest(
        "The comment replied to is not visible.", code="invalid_parent", field="parent_id"
    )


def _check_still_open(thread: Thread, parent: Comment | None) -> None:
    """Inside the write transaction: the thread is still open and the parent still visible, as
    they were when read before it (one statement, so the write lock is held briefly)."""
    threads, comments = Thread._meta.db_table, Comment._meta.db_table
    sql = (
        f"SELECT is_open, (SELECT status FROM {comments} WHERE id = %s)"  # noqa: S608 (names)
        f" FROM {threads} WHERE id = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [parent.pk if parent else None, thread.pk])
        row = cursor.fetchone()
    if row is None or not row[0]:
        # Closed (or deleted) since it was read.
        raise Forbidden("This discussion is closed.", code="thread_closed")
    if parent is not None and row[1] != CommentStatus.VISIBLE:
        raise _parent_not_visible()


def _place_in_tree(comment: Comment, parent: Comment | None, *, max_depth: int) -> None:
    if parent is None:
        return
    comment.parent = parent
    comment.root_id = parent.root_id or parent.pk
    if parent.depth < max_depth:
        comment.nest_parent, comment.depth = parent, parent.depth + 1
    else:
        # Past the site's depth, a reply is shown beside its parent, at the last level.
        comment.nest_parent_id, comment.depth = parent.nest_parent_id, parent.depth


def _initial_status(site: Site, commenter: Commenter | None, verdict: pipeline.Verdict) -> str:
    """The pipeline's verdict first, then the site's mode (recorded as a reason when it holds)."""
    if verdict.action == pipeline.SPAM:
        return CommentStatus.SPAM
    if verdict.action == pipeline.HOLD:
        return CommentStatus.PENDING
    if site.moderation_mode == ModerationMode.PRE:
        verdict.add("mode", pipeline.HOLD, "the site pre-moderates every comment")
        return CommentStatus.PENDING
    if site.moderation_mode == ModerationMode.PRE_FIRST:
        # A reader without a token is a new guest, with no comment approved yet.
        approved_before = (
            commenter is not None
            and Comment.objects.filter(author=commenter, status=CommentStatus.VISIBLE).exists()
        )
        if not approved_before:
            verdict.add("mode", pipeline.HOLD, "a first comment waits for a moderator")
            return CommentStatus.PENDING
    return CommentStatus.VISIBLE


def bump_thread(thread: Thread, *, count_delta: int, event: tuple[str, dict] | None = None) -> None:
    """Moves the thread to a new version, so cached pages of the old one are no longer served,
    and records the live ``event`` (kind, data) that tells open pages of the change.

    Versions are microsecond timestamps when that is higher than the old version plus one: they
    only grow, even across a thread deleted and created again under the same URL. The new
    version is published to every process once the transaction commits.
    """
    # One UPDATE … RETURNING (SQLite 3.35+, PostgreSQL) rather than an update and a read: on
    # SQLite this runs while the write lock is held.
    sql = (
        f"UPDATE {Thread._meta.db_table} SET"  # noqa: S608 (a table name; values are parameters)
        " version = CASE WHEN version + 1 > %s THEN version + 1 ELSE %s END,"
        " comment_count = comment_count + %s"
        " WHERE id = %s RETURNING version, comment_count"
    )
    now_us = time.time_ns() // 1000
    with connection.cursor() as cursor:
        cursor.execute(sql, [now_us, now_us, count_delta, thread.pk])
        version, count = cursor.fetchone()
    key = versions.version_key(thread.site.slug, thread.url_key)
    transaction.on_commit(lambda: versions.store().publish(key, version))
    if event is not None:
        kind, data = event
        record_event(thread.pk, kind, data if kind == "vote" else {**data, "comment_count": count})


def shown_event(comment: Comment) -> tuple[str, dict]:
    """The live event of a comment that readers now see (new to them, or changed)."""
    return ("comment", {"comment": present_comment(comment)})


def changed_event(comment: Comment) -> tuple[str, dict]:
    return ("edit", {"comment": present_comment(comment)})


def removed_event(comment: Comment) -> tuple[str, dict]:
    return ("remove", {"id": comment.pk, "status": comment.status})
