"""Each reader's own data: claiming earlier guest comments, export, deletion.

A reader here is the identity a token names plus, when its email is confirmed, the guest
identities of the same site that gave that email (the same person, by the one proof there is).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import orjson
from django.db import transaction
from django.db.models import F, Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from townhall.discussions.actions import ANONYMOUS_NAME, bump_thread, removed_event, shown_event
from townhall.discussions.models import Comment, CommentStatus, Thread, Vote
from townhall.identity.models import Commenter, CommenterKind
from townhall.live.models import LiveEvent
from townhall.moderation.models import AuditEntry
from townhall.notifications.models import Subscriber, Subscription
from townhall.sites.models import DeletionPolicy
from townhall.support.models import Contribution

SCRUBBED = "[deleted]"


def same_person(commenter: Commenter) -> list[Commenter]:
    """The reader's identities on the site: this one, and the guests with its confirmed email."""
    identities = [commenter]
    if commenter.email and commenter.email_confirmed and commenter.is_signed_in:
        identities += list(
            Commenter.objects.filter(
                site_id=commenter.site_id, kind=CommenterKind.GUEST, email__iexact=commenter.email
            ).exclude(pk=commenter.pk)
        )
    return identities


def _voter_keys(identities: list[Commenter]) -> list[str]:
    return [f"c:{identity.pk}" for identity in identities]


def _subscribers(commenter: Commenter, identities: list[Commenter]) -> list[Subscriber]:
    """Subscribers of the reader's confirmed email, and those following the reader's comments."""
    query = Q(subscriptions__comment__author__in=identities)
    if commenter.email and commenter.email_confirmed:
        query |= Q(email__iexact=commenter.email)
    return list(Subscriber.objects.filter(query, site_id=commenter.site_id).distinct())


def do_claim_guest_comments(commenter: Commenter, *, guest: Commenter | None = None) -> int:
    """Moves to the signed-in ``commenter`` the comments of the site's guest identities with
    its confirmed email, and of ``guest`` (resolved from its edit token). Returns how many."""
    if not commenter.is_signed_in:
        from townhall.core.errors import Forbidden

        raise Forbidden("Sign in to claim comments.", code="not_signed_in")
    sources = [c for c in same_person(commenter) if c.pk != commenter.pk]
    if guest is not None and guest.kind == CommenterKind.GUEST and guest.pk != commenter.pk:
        sources.append(guest)
    if not sources:
        return 0
    with transaction.atomic():
        comments = Comment.objects.filter(author__in=sources)
        thread_ids = set(comments.values_list("thread_id", flat=True))
        moved = comments.update(author=commenter)
        for source in sources:
            Vote.objects.filter(voter_key=f"c:{source.pk}").exclude(
                comment__votes__voter_key=f"c:{commenter.pk}"
            ).update(voter_key=f"c:{commenter.pk}")
        for thread in Thread.objects.select_related("site").filter(pk__in=thread_ids):
            bump_thread(thread, count_delta=0)
    return moved


def export_commenter(commenter: Commenter) -> dict[str, Any]:
    """Everything Townhall holds about the reader on this site, for them to download."""
    identities = same_person(commenter)
    comments = (
        Comment.objects.filter(author__in=identities)
        .select_related("thread")
        .order_by("created", "id")
    )
    votes = (
        Vote.objects.filter(voter_key__in=_voter_keys(identities))
        .select_related("comment__thread")
        .order_by("created", "id")
    )
    subscribers = _subscribers(commenter, identities)
    subscriptions = Subscription.objects.filter(subscriber__in=subscribers).select_related(
        "thread", "subscriber"
    )
    contributions = Contribution.objects.filter(commenter__in=identities).select_related("campaign")
    return {
        "exported": timezone.now().isoformat(),
        "site": commenter.site.slug,
        "identities": [
            {
                "id": identity.pk,
                "kind": identity.kind,
                "name": identity.display_name,
                "email": identity.email,
                "email_confirmed": _iso(identity.email_confirmed),
                "avatar": identity.avatar_url,
                "external_id": identity.external_id,
                "supporter": identity.supporter,
                "created": _iso(identity.created),
            }
            for identity in identities
        ],
        "comments": [
            {
                "id": comment.pk,
                "url": comment.thread.url,
                "thread_title": comment.thread.title,
                "parent_id": comment.parent_id,
                "author_name": comment.author_name,
                "body": comment.body,
                "html": comment.body_html,
                "status": comment.status,
                "upvotes": comment.upvotes,
                "downvotes": comment.downvotes,
                "passage": comment.passage,
                "created": _iso(comment.created),
                "edited": _iso(comment.edited),
            }
            for comment in comments
        ],
        "votes": [
            {
                "comment_id": vote.comment_id,
                "url": vote.comment.thread.url,
                "value": vote.value,
                "created": _iso(vote.created),
            }
            for vote in votes
        ],
        "subscriptions": [
            {
                "email": subscription.subscriber.email,
                "confirmed": _iso(subscription.subscriber.confirmed_at),
                "frequency": subscription.subscriber.frequency,
                "url": subscription.thread.url,
                "kind": subscription.kind,
                "comment_id": subscription.comment_id,
                "created": _iso(subscription.created),
            }
            for subscription in subscriptions
        ],
        "contributions": [
            {
                "campaign": contribution.campaign.title,
                "amount_minor": contribution.amount,
                "refunded_minor": contribution.refunded_amount,
                "currency": contribution.currency,
                "status": contribution.status,
                "show_badge": contribution.show_badge,
                "created": _iso(contribution.created),
            }
            for contribution in contributions
        ],
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def do_delete_commenter(commenter: Commenter) -> dict[str, int]:
    """Deletes the reader (``same_person``) from the site, by the site's deletion policy.

    Comments become deleted placeholders ("placeholder") or stay by an anonymous, unlinked
    author ("anonymize"); votes go with the counts they made; subscriptions and their
    deliveries go; contributions stay for the campaign's totals, unlinked; live events, audit
    entries, moderation records and queued email that carry the reader's name or email are
    scrubbed; the identities go (every token with them) and so does a staff account an SSO
    role gave. Thread versions move, so no cached page shows them any longer.
    """
    from townhall.moderation.actions import do_remove_moderator

    site = commenter.site
    identities = same_person(commenter)
    ids = [identity.pk for identity in identities]
    needles = _needles(identities)
    anonymize = site.deletion_policy == DeletionPolicy.ANONYMIZE
    with transaction.atomic():
        locked = list(Comment.objects.select_for_update().filter(author_id__in=ids).order_by("id"))
        comment_ids = [comment.pk for comment in locked]
        changed: dict[int, list[Comment]] = defaultdict(list)
        for comment in locked:
            was_visible = comment.status == CommentStatus.VISIBLE
            comment.author = None
            comment.client_fingerprint = ""
            comment.moderation = {}
            comment.supporter = False
            if anonymize:
                comment.author_name = ANONYMOUS_NAME
            else:
                comment.status = CommentStatus.DELETED
                comment.body, comment.body_html, comment.author_name = "", "", ""
                comment.edited = timezone.now()
            comment.save()
            if was_visible:
                changed[comment.thread_id].append(comment)
        votes = _remove_votes(_voter_keys(identities))
        subscribers = _subscribers(commenter, identities)
        Subscriber.objects.filter(pk__in=[s.pk for s in subscribers]).delete()
        Contribution.objects.filter(commenter_id__in=ids).update(commenter=None, show_badge=False)
        _scrub_live_events({c.thread_id for c in locked}, comment_ids, needles)
        _scrub_json(AuditEntry.objects.filter(site=site), "detail", needles)
        _scrub_json(Comment.objects.filter(thread__site=site), "moderation", needles)
        _drop_queued_email(needles)
        for identity in identities:
            staff = identity.staff_user
            if staff is not None:
                do_remove_moderator(staff, site)
                staff.delete()
        Commenter.objects.filter(pk__in=ids).delete()
        threads = Thread.objects.select_related("site").in_bulk(set(changed) | votes["threads"])
        for thread_id, thread in threads.items():
            shown = changed.get(thread_id, [])
            if not shown:
                bump_thread(thread, count_delta=0)
            for comment in shown:
                if anonymize:
                    bump_thread(thread, count_delta=0, event=shown_event(comment))
                else:
                    bump_thread(thread, count_delta=-1, event=removed_event(comment))
    return {
        "comments": len(comment_ids),
        "votes": votes["count"],
        "subscriptions": len(subscribers),
    }


def _needles(identities: list[Commenter]) -> list[str]:
    found = {identity.email.lower() for identity in identities if identity.email}
    found |= {identity.display_name for identity in identities if len(identity.display_name) > 2}
    return sorted(found)


def _remove_votes(voter_keys: list[str]) -> dict[str, Any]:
    votes = list(Vote.objects.filter(voter_key__in=voter_keys).select_related("comment"))
    threads = set()
    for vote in votes:
        up, down = int(vote.value == 1), int(vote.value == -1)
        Comment.objects.filter(pk=vote.comment_id).update(
            upvotes=F("upvotes") - up,
            downvotes=F("downvotes") - down,
            score=F("score") - vote.value,
        )
        threads.add(vote.comment.thread_id)
    Vote.objects.filter(pk__in=[vote.pk for vote in votes]).delete()
    return {"count": len(votes), "threads": threads}


def _scrub_live_events(thread_ids: set[int], comment_ids: list[int], needles: list[str]) -> None:
    """Live events are kept an hour for reconnecting pages; those about the reader's comments
    or naming them go (a page that missed one reloads the thread)."""
    wanted = set(comment_ids)
    query = Q()
    for needle in needles:
        query |= Q(data__icontains=needle)
    candidates = LiveEvent.objects.filter(query) if needles else LiveEvent.objects.none()
    doomed = {event.pk for event in candidates}
    if wanted:
        for event in LiveEvent.objects.filter(thread_id__in=thread_ids):
            if _event_comment_ids(event.data) & wanted:
                doomed.add(event.pk)
    LiveEvent.objects.filter(pk__in=doomed).delete()


def _event_comment_ids(data: str) -> set[int]:
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError:
        return set()
    found = set()
    if isinstance(payload, dict):
        if isinstance(payload.get("id"), int):
            found.add(payload["id"])
        comment = payload.get("comment")
        if isinstance(comment, dict) and isinstance(comment.get("id"), int):
            found.add(comment["id"])
    return found


def _scrub_json(queryset: Any, field: str, needles: list[str]) -> None:
    """Replaces the needles wherever they appear in a JSON column's values."""
    if not needles:
        return
    query = Q()
    for needle in needles:
        query |= Q(as_text__icontains=needle)
    for row in queryset.annotate(as_text=Cast(field, TextField())).filter(query):
        setattr(row, field, _scrubbed(getattr(row, field), needles))
        row.save(update_fields=[field])


def _scrubbed(value: Any, needles: list[str]) -> Any:
    if isinstance(value, str):
        lowered = value.lower()
        return SCRUBBED if any(n.lower() in lowered for n in needles) else value
    if isinstance(value, list):
        return [_scrubbed(item, needles) for item in value]
    if isinstance(value, dict):
        return {key: _scrubbed(item, needles) for key, item in value.items()}
    return value


def _drop_queued_email(needles: list[str]) -> None:
    """Task results (queued or done) whose arguments carry the reader's address or name."""
    from django_tasks_db.models import DBTaskResult

    if not needles:
        return
    query = Q()
    for needle in needles:
        query |= Q(as_text__icontains=needle)
    DBTaskResult.objects.annotate(as_text=Cast("args_kwargs", TextField())).filter(query).exclude(
        status="RUNNING"
    ).delete()
