"""The moderation pipeline: every new and edited comment passes it before it is stored.

Each step looks at the comment and may add a reason: ``{"rule", "action", "detail"}``. The
strongest action wins: ``reject`` (the comment is refused with a clear error), ``spam`` (stored,
shown to no reader, in the moderators' spam view), ``hold`` (stored, waiting in the queue),
``allow`` (then the site's moderation mode decides). Steps, in order:

1. ``banned``: the commenter, their email or their client (keyed hash) is banned on the site.
2. ``banned_words``: a word or phrase of ``Site.banned_words`` → reject.
3. ``suspect_words``: a word or phrase of ``Site.suspect_words`` → hold.
4. ``links``: more links than ``Site.max_links`` → hold.
5. ``repeated``: the same text from the same client or commenter in the last day → hold.
6. ``fast_new_commenter``: a commenter new today (or a reader without a token) with
   ``Site.new_commenter_burst`` comments in the last ``FAST_WINDOW`` → hold. Off, like the
   rate limits, with ``TOWNHALL_RATELIMIT=0``.
7. ``toxicity``: the offline model's score (``toxicity.py``) at or above
   ``Site.toxicity_threshold`` → hold. The score is kept for moderators either way.
8. ``akismet``: only when the site has set ``Site.akismet_key``: Akismet says spam → spam.

Rate limits come before all this, in the API (``core.ratelimit``).
"""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache

from django.conf import settings
from django.db import connections, router
from django.db.models import Q
from django.utils import timezone

from townhall.discussions.models import Comment, Thread
from townhall.identity.models import Commenter
from townhall.moderation import akismet, toxicity
from townhall.moderation.models import Ban, BanKind
from townhall.sites.models import Site

ALLOW, HOLD, SPAM, REJECT = "allow", "hold", "spam", "reject"
_STRENGTH = {ALLOW: 0, HOLD: 1, SPAM: 2, REJECT: 3}
REPEAT_WINDOW = timedelta(days=1)
FAST_WINDOW = timedelta(minutes=10)
NEW_COMMENTER_AGE = timedelta(days=1)
_LINK = re.compile(r"<a\s", re.I)


@dataclass
class Verdict:
    action: str = ALLOW
    reasons: list[dict] = field(default_factory=list)
    toxicity: float | None = None
    ban: Ban | None = None

    def add(self, rule: str, action: str, detail: str) -> None:
        self.reasons.append({"rule": rule, "action": action, "detail": detail})
        if _STRENGTH[action] > _STRENGTH[self.action]:
            self.action = action

    def record(self) -> dict:
        """What is kept on the comment for moderators."""
        return {"reasons": self.reasons, "toxicity": self.toxicity}


@dataclass(frozen=True)
class Submission:
    """A comment as the pipeline sees it. ``client_ip`` is only passed on to Akismet, when the
    site asked for it, and never stored."""

    site: Site
    text: str
    html: str
    commenter: Commenter | None = None
    email: str = ""
    client_fingerprint: str = ""
    client_ip: str = ""
    user_agent: str = ""
    author_name: str = ""
    article_url: str = ""
    editing: Comment | None = None


def run_pipeline(submission: Submission) -> Verdict:
    """Every rule on one comment. Reads the database (bans, recent comments); writes nothing.

    Precondition: ``text`` and ``html`` are the cleaned body and its sanitized rendering.
    """
    verdict = Verdict()
    site = submission.site
    ban = active_ban(site, submission.commenter, submission.email, submission.client_fingerprint)
    if ban is not None:
        verdict.ban = ban
        verdict.add("banned", REJECT, f"ban #{ban.pk} ({ban.get_kind_display().lower()})")
        return verdict
    folded = fold(submission.text)
    if site.banned_words and (word := _first_match(tuple(site.banned_words), folded)):
        verdict.add("banned_words", REJECT, word)
        return verdict
    if site.suspect_words and (word := _first_match(tuple(site.suspect_words), folded)):
        verdict.add("suspect_words", HOLD, word)
    links = len(_LINK.findall(submission.html))
    if links > site.max_links:
        verdict.add("links", HOLD, f"{links} links (the site allows {site.max_links})")
    repeated, fast = _history(submission)
    if repeated:
        verdict.add("repeated", HOLD, "the same text again within a day")
    if fast:
        verdict.add("fast_new_commenter", HOLD, fast)
    if site.toxicity_threshold < 1:
        verdict.toxicity = round(toxicity.score(submission.text), 4)
        if verdict.toxicity >= site.toxicity_threshold:
            verdict.add(
                "toxicity",
                HOLD,
                f"score {verdict.toxicity:.2f} (threshold {site.toxicity_threshold:.2f})",
            )
    if site.akismet_key and akismet.is_spam(submission):
        verdict.add("akismet", SPAM, "Akismet says spam")
    return verdict


def active_ban(
    site: Site, commenter: Commenter | None, email: str, client_fingerprint: str
) -> Ban | None:
    """The ban in force on this reader by identity, email or client hash, if any; of several,
    the longest (a ban for good first)."""
    keys = []
    if commenter is not None and commenter.pk is not None:
        keys.append((BanKind.COMMENTER, str(commenter.pk)))
    email = email or (commenter.email if commenter else "")
    if email:
        keys.append((BanKind.EMAIL, email.strip().lower()))
    if client_fingerprint:
        keys.append((BanKind.CLIENT, client_fingerprint))
    if not keys:
        return None
    now = timezone.now()
    in_force = [
        ban
        for key in keys
        if (ban := site_bans.get(site.pk).get(key)) is not None
        and (ban.expires is None or ban.expires > now)
    ]
    return max(in_force, key=_ban_length, default=None)


def _ban_length(ban: Ban) -> float:
    return ban.expires.timestamp() if ban.expires else float("inf")


class SiteBans:
    """Each site's bans in force, per process, read again after ``TTL_SECONDS``.

    Asking the database on every comment cost more than every other rule together (most of it
    Django building the query). A ban or a lift clears this process's copy when it commits, and
    reaches other processes within ``TTL_SECONDS``.
    """

    TTL_SECONDS = 2.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sites: dict[int, tuple[float, dict[tuple[str, str], Ban]]] = {}

    def get(self, site_id: int) -> dict[tuple[str, str], Ban]:
        known = self._sites.get(site_id)
        if known is not None and known[0] > time.monotonic():
            return known[1]
        now = timezone.now()
        bans: dict[tuple[str, str], Ban] = {}
        rows = (
            Ban.objects.filter(site_id=site_id, lifted__isnull=True)
            .filter(Q(expires__isnull=True) | Q(expires__gt=now))
            .only("id", "site_id", "kind", "value", "expires")
        )
        for ban in rows:
            current = bans.get((ban.kind, ban.value))
            if current is None or _ban_length(ban) > _ban_length(current):
                bans[(ban.kind, ban.value)] = ban
        with self._lock:
            self._sites[site_id] = (time.monotonic() + self.TTL_SECONDS, bans)
        return bans

    def forget(self, site_id: int) -> None:
        with self._lock:
            self._sites.pop(site_id, None)

    def clear(self) -> None:
        with self._lock:
            self._sites.clear()


site_bans = SiteBans()


def fold(text: str) -> str:
    """Lower case without accents, so that "Idiot", "idiot" and "ídiot" are one word."""
    if text.isascii():  # no accents to take off: most comments, at a tenth of the cost
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=256)
def _word_pattern(words: tuple[str, ...]) -> re.Pattern[str] | None:
    cleaned = sorted({" ".join(fold(w).split()) for w in words if w.strip()}, key=len, reverse=True)
    if not cleaned:
        return None
    alternatives = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in cleaned)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


def _first_match(words: tuple[str, ...], folded: str) -> str | None:
    pattern = _word_pattern(words)
    match = pattern.search(folded) if pattern else None
    return match.group(0) if match else None


def _history(submission: Submission) -> tuple[bool, str | None]:
    """The "same text again" and "new commenter posting fast" checks, from one query over this
    reader's comments of the last day (by client hash or identity).

    In SQL rather than through the ORM: it runs on every post, and Django took five times
    SQLite's time to build it.
    """
    commenter, site = submission.commenter, submission.site
    known = commenter is not None and commenter.pk is not None
    who, who_params = [], []
    if known:
        who.append("c.author_id = %s")
        who_params.append(commenter.pk)  # type: ignore[union-attr]
    if submission.client_fingerprint:
        who.append("c.client_fingerprint = %s")
        who_params.append(submission.client_fingerprint)
    if not who:
        return False, None
    now = timezone.now()
    burst = site.new_commenter_burst if settings.RATELIMIT_ENABLE else 0
    new = not known or commenter.created >= now - NEW_COMMENTER_AGE  # type: ignore[union-attr]
    fast = bool(burst) and new and submission.editing is None
    connection = connections[router.db_for_read(Comment)]
    moment = connection.ops.adapt_datetimefield_value
    sql = (
        "SELECT COUNT(CASE WHEN c.body = %s THEN 1 END),"  # noqa: S608 (names; values are %s)
        " COUNT(CASE WHEN c.created >= %s THEN 1 END)"
        f" FROM {Comment._meta.db_table} c JOIN {Thread._meta.db_table} t ON t.id = c.thread_id"
        f" WHERE ({' OR '.join(who)}) AND t.site_id = %s AND c.created >= %s"
    )
    params = [submission.text, moment(now - FAST_WINDOW), *who_params, site.pk]
    params.append(moment(now - REPEAT_WINDOW))
    if submission.editing is not None:
        sql += " AND c.id <> %s"
        params.append(submission.editing.pk)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        repeats, recent = cursor.fetchone()
    if not fast or recent < burst:
        return repeats > 0, None
    minutes = int(FAST_WINDOW.total_seconds() // 60)
    return repeats > 0, f"{recent + 1} comments in {minutes} minutes from a new commenter"
