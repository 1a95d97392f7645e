"""Every moderation write: decisions on comments, featuring, reports, bans, and their undoing.

Each action owns its transaction, writes its audit entry, and changes what readers see through
``discussions.actions.set_comment_status`` (thread count and version, notifications on commit),
so an approved comment appears and notifies at once and a rejected one disappears at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from townhall.core.errors import BadRequest, Conflict
from townhall.discussions.actions import bump_thread, changed_event, set_comment_status
from townhall.discussions.models import Comment, CommentStatus
from townhall.moderation.audit import audit
from townhall.moderation.models import AuditAction, AuditEntry, Ban, BanKind, Flag, SiteModerator
from townhall.moderation.pipeline import site_bans
from townhall.sites.models import Site

# What a moderator may decide on a comment, and the status it takes.
DECISIONS: dict[str, str] = {
    AuditAction.APPROVE: CommentStatus.VISIBLE,
    AuditAction.REJECT: CommentStatus.REJECTED,
    AuditAction.SPAM: CommentStatus.SPAM,
}
BAN_DURATIONS = {
    "1d": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "forever": None,
}


def _locked(comment: Comment) -> Comment:
    return (
        Comment.objects.select_for_update(of=("self",))
        .select_related("thread__site")
        .get(pk=comment.pk)
    )


def do_moderate_comment(actor: Any, comment: Comment, decision: str) -> AuditEntry:
    """Approves, rejects or marks as spam. Its open reports are settled by the decision.

    Precondition: ``actor`` moderates the comment's site (``queries.access_moderated_comment``).
    A deleted comment cannot be decided on (Conflict ``comment_deleted``).
    """
    if decision not in DECISIONS:
        raise BadRequest(f"Unknown decision {decision!r}.", code="invalid_decision")
    with transaction.atomic():
        locked = _locked(comment)
        if locked.status == CommentStatus.DELETED:
            raise Conflict("Its author deleted this comment.", code="comment_deleted")
        before = set_comment_status(locked, DECISIONS[decision])
        settled = Flag.objects.filter(comment=locked, resolved=False).update(resolved=True)
        if settled:
            Comment.objects.filter(pk=locked.pk).update(open_flags=0)
        return audit(
            locked.thread.site_id,
            decision,
            actor=actor,
            comment=locked,
            from_status=before,
            to_status=locked.status,
            detail={"settled_flags": settled} if settled else {},
        )


def do_moderate_comments(actor: Any, comments: list[Comment], decision: str) -> list[AuditEntry]:
    """The same decision on several comments (bulk), each in its own transaction; comments
    deleted meanwhile are skipped."""
    entries = []
    for comment in comments:
        try:
            entries.append(do_moderate_comment(actor, comment, decision))
        except Conflict:
            continue
    return entries


def do_feature_comment(actor: Any, comment: Comment, featured: bool = True) -> AuditEntry:
    """Marks a visible comment as an editor's pick (the widget shows it), or unmarks it."""
    with transaction.atomic():
        locked = _locked(comment)
        if featured and locked.status != CommentStatus.VISIBLE:
            raise Conflict("Only a visible comment can be featured.", code="not_visible")
        if locked.featured != featured:
            Comment.objects.filter(pk=locked.pk).update(featured=featured)
            locked.featured = featured
            if locked.status == CommentStatus.VISIBLE:  # readers see the mark on visible ones only
                bump_thread(locked.thread, count_delta=0, event=changed_event(locked))
        action = AuditAction.FEATURE if featured else AuditAction.UNFEATURE
        return audit(locked.thread.site_id, action, actor=actor, comment=locked)


def do_flag_comment(comment: Comment, *, reporter_key: str, reason: str, note: str = "") -> Comment:
    """Records a reader's report (once per reader; a second one changes nothing). When a visible
    comment's open reports reach the site's ``flag_threshold``, it goes to the queue: pending,
    out of the thread until a moderator decides.

    Precondition: ``comment`` is visible (``discussions.queries.access_comment``) and
    ``reason`` one of FlagReason (the API schema checks it).
    """
    with transaction.atomic():
        locked = _locked(comment)
        if locked.status != CommentStatus.VISIBLE:
            return locked
        try:
            with transaction.atomic():
                Flag.objects.create(
                    comment=locked, reporter_key=reporter_key, reason=reason, note=note.strip()
                )
        except IntegrityError:
            return locked  # this reader reported it already
        Comment.objects.filter(pk=locked.pk).update(open_flags=F("open_flags") + 1)
        locked.refresh_from_db(fields=["open_flags"])
        site = locked.thread.site
        if locked.open_flags >= site.flag_threshold:
            before = set_comment_status(locked, CommentStatus.PENDING)
            reason_text = (
                f"{locked.open_flags} reader reports (the site's threshold is "
                f"{site.flag_threshold})"
            )
            moderation = {**locked.moderation}
            moderation["reasons"] = [
                *moderation.get("reasons", []),
                {"rule": "flags", "action": "hold", "detail": reason_text},
            ]
            Comment.objects.filter(pk=locked.pk).update(moderation=moderation)
            audit(
                site.pk,
                AuditAction.HOLD,
                comment=locked,
                from_status=before,
                to_status=locked.status,
                detail={"reasons": [{"rule": "flags", "detail": reason_text}]},
            )
    return locked


def do_ban(
    actor: Any,
    site: Site,
    *,
    kind: str,
    value: str,
    duration: str = "forever",
    reason: str = "",
) -> Ban:
    """Bans a commenter identity, an email address or a client (keyed hash) from the site.

    Precondition: ``actor`` moderates ``site``. BadRequest for an unknown kind or duration or an
    empty value.
    """
    return _ban(actor, site, kind=kind, value=value, duration=duration, reason=reason)[0]


def _ban(
    actor: Any, site: Site, *, kind: str, value: str, duration: str, reason: str
) -> tuple[Ban, AuditEntry]:
    if kind not in BanKind.values:
        raise BadRequest(f"Unknown ban kind {kind!r}.", code="invalid_ban", field="kind")
    if duration not in BAN_DURATIONS:
        raise BadRequest(f"Unknown duration {duration!r}.", code="invalid_ban", field="duration")
    value = value.strip().lower() if kind == BanKind.EMAIL else value.strip()
    if not value:
        raise BadRequest("Nothing to ban.", code="invalid_ban", field="value")
    length = BAN_DURATIONS[duration]
    expires: datetime | None = timezone.now() + length if length else None
    with transaction.atomic():
        ban = Ban.objects.create(
            site=site,
            kind=kind,
            value=value,
            reason=reason.strip()[:300],
            expires=expires,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        _forget_bans(site.pk)
        entry = audit(
            site.pk,
            AuditAction.BAN,
            actor=actor,
            ban=ban,
            detail={"kind": kind, "duration": duration, "reason": ban.reason},
        )
    return ban, entry


def do_ban_author(
    actor: Any, comment: Comment, *, duration: str = "forever", reason: str = ""
) -> list[Ban]:
    """Bans a comment's author by every key known (identity, email, client) and rejects the
    comment. Precondition: ``actor`` moderates the comment's site."""
    return _ban_author(actor, comment, duration=duration, reason=reason)[0]


def do_ban_author_entries(
    actor: Any, comment: Comment, *, duration: str = "forever", reason: str = ""
) -> list[AuditEntry]:
    """``do_ban_author``, answering with the audit entries it wrote (its bans, then the
    rejection), so that the moderators' pages can undo them together.

    Precondition: ``actor`` moderates the comment's site.
    """
    return _ban_author(actor, comment, duration=duration, reason=reason)[1]


def _ban_author(
    actor: Any, comment: Comment, *, duration: str, reason: str
) -> tuple[list[Ban], list[AuditEntry]]:
    site = comment.thread.site
    keys: list[tuple[str, str]] = []
    if comment.author_id:
        keys.append((BanKind.COMMENTER, str(comment.author_id)))
        if comment.author and comment.author.email:
            keys.append((BanKind.EMAIL, comment.author.email))
    if comment.client_fingerprint:
        keys.append((BanKind.CLIENT, comment.client_fingerprint))
    with transaction.atomic():
        made = [
            _ban(actor, site, kind=kind, value=value, duration=duration, reason=reason)
            for kind, value in keys
        ]
        entries = [entry for _, entry in made]
        if comment.status != CommentStatus.DELETED:
            entries.append(do_moderate_comment(actor, comment, AuditAction.REJECT))
    return [ban for ban, _ in made], entries


def _forget_bans(site_id: int) -> None:
    """This process reads the site's bans again: now, and once more after the commit, in case
    another thread read them in between."""
    site_bans.forget(site_id)
    transaction.on_commit(lambda: site_bans.forget(site_id))


def do_lift_ban(actor: Any, ban: Ban) -> Ban:
    """Ends a ban now. Precondition: ``actor`` moderates the ban's site."""
    with transaction.atomic():
        locked = Ban.objects.select_for_update().get(pk=ban.pk)
        if locked.lifted is None:
            locked.lifted = timezone.now()
            locked.save(update_fields=["lifted"])
            _forget_bans(locked.site_id)
            audit(locked.site_id, AuditAction.LIFT_BAN, actor=actor, ban=locked)
    return locked


def do_undo(actor: Any, entry: AuditEntry) -> AuditEntry:
    """Undoes one moderation action: a decision goes back to the status before it (if nothing
    changed the comment since), a feature mark is removed or restored, a ban lifted.

    Precondition: ``actor`` moderates the entry's site. Conflict when it was undone already or
    the comment has moved on.
    """
    with transaction.atomic():
        locked_entry = AuditEntry.objects.select_for_update().get(pk=entry.pk)
        if locked_entry.undone:
            raise Conflict("That was undone already.", code="already_undone")
        target, ban = locked_entry.comment, locked_entry.ban
        if locked_entry.action in DECISIONS or locked_entry.action == AuditAction.HOLD:
            assert target is not None
            comment = _locked(target)
            if not locked_entry.from_status:
                raise Conflict(
                    "A new comment held by the pipeline is let through by approving it.",
                    code="cannot_undo",
                )
            if comment.status != locked_entry.to_status:
                raise Conflict(
                    "The comment has changed since; decide on it again instead.",
                    code="cannot_undo",
                )
            before = set_comment_status(comment, locked_entry.from_status)
            undo = audit(
                comment.thread.site_id,
                AuditAction.UNDO,
                actor=actor,
                comment=comment,
                from_status=before,
                to_status=comment.status,
                undoes=locked_entry,
            )
        elif locked_entry.action in (AuditAction.FEATURE, AuditAction.UNFEATURE):
            assert target is not None
            do_feature_comment(actor, target, locked_entry.action == AuditAction.UNFEATURE)
            undo = audit(
                locked_entry.site_id,
                AuditAction.UNDO,
                actor=actor,
                comment=locked_entry.comment,
                undoes=locked_entry,
            )
        elif locked_entry.action == AuditAction.BAN:
            assert ban is not None
            do_lift_ban(actor, ban)
            undo = audit(
                locked_entry.site_id,
                AuditAction.UNDO,
                actor=actor,
                ban=locked_entry.ban,
                undoes=locked_entry,
            )
        else:
            raise Conflict("That action cannot be undone.", code="cannot_undo")
        AuditEntry.objects.filter(pk=locked_entry.pk).update(undone=True)
    return undo


def do_undo_entries(actor: Any, entries: list[AuditEntry]) -> list[AuditEntry]:
    """Undoes the entries of one moderator's action together (a bulk decision; a ban of an
    author: its bans and the rejection), newest first, each in its own transaction. Entries that
    cannot be undone (undone already, the comment has moved on) are skipped; Conflict when none
    could be.

    Precondition: ``actor`` moderates the site of every entry (``queries.access_audit_entry``).
    """
    undone: list[AuditEntry] = []
    refusal: Conflict | None = None
    for entry in sorted(entries, key=lambda e: e.pk, reverse=True):
        try:
            undone.append(do_undo(actor, entry))
        except Conflict as error:
            refusal = refusal or error
    if not undone and refusal is not None:
        raise refusal
    return undone


def do_add_moderator(user: Any, site: Site) -> SiteModerator:
    """Lets ``user`` moderate ``site`` (once: adding again changes nothing)."""
    with transaction.atomic():
        moderator, _ = SiteModerator.objects.get_or_create(user=user, site=site)
    return moderator


def do_remove_moderator(user: Any, site: Site) -> bool:
    """Takes ``site`` from the sites ``user`` moderates; False when they did not moderate it.
    (A superuser moderates every site whatever this says.)"""
    with transaction.atomic():
        removed, _ = SiteModerator.objects.filter(user=user, site=site).delete()
    return bool(removed)
