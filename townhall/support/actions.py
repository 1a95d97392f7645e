"""Every write of reader support: campaigns, contributions and the supporter badge.

A campaign's ``settled_total`` changes only here, in the transaction that changes one of its
contributions, with the campaign row locked (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite runs
write transactions one at a time): the total always equals what its contributions count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from townhall.core.errors import BadRequest, Conflict
from townhall.discussions.actions import bump_thread
from townhall.discussions.models import Comment, Thread
from townhall.identity.models import Commenter
from townhall.sites.models import Site
from townhall.support.models import (
    Campaign,
    Checkout,
    Contribution,
    ContributionStatus,
)
from townhall.support.money import MAX_MINOR_UNITS, clean_currency

MAX_AMOUNT = MAX_MINOR_UNITS  # far above any real figure, within a signed 64-bit column
MAX_TITLE_CHARS = 200
MAX_NOTE_CHARS = 500


def do_create_campaign(
    site: Site,
    *,
    slug: str,
    title: str,
    currency: str,
    goal: int,
    stretch_goals: Sequence[int] = (),
    starts: datetime | None = None,
    ends: datetime | None = None,
    checkout: str = Checkout.STRIPE,
    donation_url: str = "",
    support_prompt: bool = False,
) -> Campaign:
    """Creates a campaign. Amounts are minor units of ``currency``. A bad value raises
    BadRequest naming its field; a slug the site already uses, Conflict."""
    if not slug or slugify(slug) != slug:
        raise BadRequest(
            f"{slug!r} is not a valid slug (lowercase letters, digits, hyphens).",
            code="invalid_slug",
            field="slug",
        )
    title = " ".join((title or "").split())
    if not title or len(title) > MAX_TITLE_CHARS:
        raise BadRequest(
            f"A title is 1 to {MAX_TITLE_CHARS} characters.", code="invalid_title", field="title"
        )
    currency = clean_currency(currency)
    goal = _clean_amount(goal, field="goal")
    stretch = [_clean_amount(value, field="stretch_goals") for value in stretch_goals]
    if any(b <= a for a, b in zip([goal, *stretch], stretch, strict=False)):
        raise BadRequest(
            "Stretch goals rise above the goal and each other.",
            code="invalid_stretch_goals",
            field="stretch_goals",
        )
    starts = starts or timezone.now()
    if ends is not None and ends <= starts:
        raise BadRequest("A campaign ends after it starts.", code="invalid_dates", field="ends")
    if checkout not in Checkout.values:
        raise BadRequest(
            f"checkout is one of {', '.join(Checkout.values)}.",
            code="invalid_checkout",
            field="checkout",
        )
    donation_url = (donation_url or "").strip()
    if checkout == Checkout.DONATION_URL or donation_url:
        try:
            URLValidator(schemes=["https", "http"])(donation_url)
        except ValidationError:
            raise BadRequest(
                "A donation page is an http(s) URL.", code="invalid_url", field="donation_url"
            ) from None
    with transaction.atomic():
        if Campaign.objects.filter(site=site, slug=slug).exists():
            raise Conflict(f"Site {site.slug!r} has a campaign {slug!r} already.", field="slug")
        return Campaign.objects.create(
            site=site,
            slug=slug,
            title=title,
            currency=currency,
            goal=goal,
            stretch_goals=stretch,
            starts=starts,
            ends=ends,
            checkout=checkout,
            donation_url=donation_url,
            support_prompt=bool(support_prompt),
        )


def _clean_amount(value: object, *, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_AMOUNT:
        raise BadRequest(
            f"{field} is a positive whole number of minor units (cents).",
            code="invalid_amount",
            field=field,
        )
    return value


@dataclass(frozen=True)
class Recorded:
    contribution: Contribution
    created: bool  # False: a contribution with this source and external_id existed already


def do_record_contribution(
    campaign: Campaign,
    *,
    amount: int,
    currency: str,
    source: str,
    status: str = ContributionStatus.SETTLED,
    external_id: str | None = None,
    payment_intent: str = "",
    commenter: Commenter | None = None,
    show_badge: bool = False,
    note: str = "",
    settled_at: datetime | None = None,
) -> Recorded:
    """Records a contribution and counts it when it is settled, in one transaction.

    With an ``external_id`` it is recorded once: the same source and id again returns the
    contribution already there, unchanged. Preconditions: ``commenter``, when given, belongs
    to the campaign's site (resolved from its token or checked by the caller).
    """
    amount = _clean_amount(amount, field="amount")
    if clean_currency(currency) != campaign.currency:
        raise BadRequest(
            f"This campaign counts {campaign.currency}, not {currency.upper()}.",
            code="currency_mismatch",
            field="currency",
        )
    if status not in (ContributionStatus.PENDING, ContributionStatus.SETTLED):
        raise BadRequest("A new contribution is pending or settled.", field="status")
    if commenter is not None and commenter.site_id != campaign.site_id:
        raise BadRequest("That reader is not of this campaign's site.", field="commenter")
    with transaction.atomic():
        locked = _lock(campaign)
        if external_id is not None:
            existing = Contribution.objects.filter(source=source, external_id=external_id).first()
            if existing is not None:
                return Recorded(existing, False)
        settled = status == ContributionStatus.SETTLED
        contribution = Contribution.objects.create(
            campaign=locked,
            amount=amount,
            currency=locked.currency,
            status=status,
            source=source,
            external_id=external_id,
            payment_intent=payment_intent,
            commenter=commenter,
            show_badge=bool(show_badge and commenter is not None),
            note=note[:MAX_NOTE_CHARS],
            settled_at=(settled_at or timezone.now()) if settled else None,
        )
        _count(locked, contribution.counted)
        if contribution.show_badge and settled:
            _refresh_badge(contribution.commenter_id)
    return Recorded(contribution, True)


def do_settle_contribution(contribution: Contribution, *, payment_intent: str = "") -> Contribution:
    """Counts a pending contribution (a delayed payment that went through); a settled or
    refunded one stays as it is."""
    with transaction.atomic():
        locked = _lock(contribution.campaign)
        row = Contribution.objects.select_for_update().get(pk=contribution.pk)
        if row.status != ContributionStatus.PENDING:
            return row
        row.status, row.settled_at = ContributionStatus.SETTLED, timezone.now()
        row.payment_intent = payment_intent or row.payment_intent
        row.save(update_fields=["status", "settled_at", "payment_intent"])
        _count(locked, row.counted)
        if row.show_badge:
            _refresh_badge(row.commenter_id)
    return row


def do_refund_contribution(contribution: Contribution, *, refunded_amount: int) -> Contribution:
    """Sets how much of a contribution was refunded in all (Stripe's cumulative
    ``amount_refunded``), lowering the campaign's total by the difference; refunded in full it
    becomes ``refunded`` and its supporter badge goes if it was the reader's last.

    A refund never shrinks (events may come out of order); a pending contribution counts
    nothing either way.
    """
    if isinstance(refunded_amount, bool) or not isinstance(refunded_amount, int):
        raise BadRequest("A refund is a whole number of minor units.", field="refunded_amount")
    with transaction.atomic():
        locked = _lock(contribution.campaign)
        row = Contribution.objects.select_for_update().get(pk=contribution.pk)
        refunded = min(max(refunded_amount, row.refunded_amount), row.amount)
        if refunded == row.refunded_amount:
            return row
        before = row.counted
        row.refunded_amount = refunded
        if refunded == row.amount and row.status == ContributionStatus.SETTLED:
            row.status = ContributionStatus.REFUNDED
        row.save(update_fields=["refunded_amount", "status"])
        _count(locked, row.counted - before)
        if row.show_badge and row.status == ContributionStatus.REFUNDED:
            _refresh_badge(row.commenter_id)
    return row


def _lock(campaign: Campaign) -> Campaign:
    """The campaign's row, locked until the transaction ends. Every contribution change of a
    campaign takes this lock first, so they are applied one after another."""
    return Campaign.objects.select_for_update().get(pk=campaign.pk)


def _count(locked: Campaign, delta: int) -> None:
    if delta:
        Campaign.objects.filter(pk=locked.pk).update(settled_total=F("settled_total") + delta)
        locked.settled_total += delta


def _refresh_badge(commenter_id: int | None) -> None:
    """Gives the reader the supporter badge while a settled contribution of theirs asked for
    it, and takes it away after the last is refunded: on the reader, on each of their comments,
    with a new version for each thread they wrote in (cached pages then show the change).

    Precondition: inside the transaction of the contribution change.
    """
    if commenter_id is None:
        return
    # The reader's row first: two of their contributions refunded at once are then decided one
    # after the other, the second seeing the first's refund.
    reader = Commenter.objects.filter(pk=commenter_id)
    reader.select_for_update().first()
    wanted = Contribution.objects.filter(
        commenter_id=commenter_id, show_badge=True, status=ContributionStatus.SETTLED
    ).exists()
    if not reader.exclude(supporter=wanted).update(supporter=wanted):
        return
    written = Comment.objects.filter(author_id=commenter_id)
    written.exclude(supporter=wanted).update(supporter=wanted)
    threads = Thread.objects.filter(pk__in=written.values("thread_id")).select_related("site")
    for thread in threads.order_by("pk"):
        bump_thread(thread, count_delta=0)
