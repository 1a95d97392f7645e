"""The commenters of an import: one guest commenter (or the kind the source says) per author
key of the source, else per name and email, remembered as ``ImportedItem`` rows; the recent
ones in a small LRU, the others looked up by batch."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email

from townhall.discussions.actions import ANONYMOUS_NAME, MAX_NAME_CHARS
from townhall.identity.models import Commenter, CommenterKind
from townhall.migration import items
from townhall.migration.models import ImportedKind
from townhall.migration.records import SourceAuthor
from townhall.migration.report import ImportReport
from townhall.sites.models import Site

CACHE_SIZE = 20_000
_KINDS = frozenset(CommenterKind.values)
_url_ok = URLValidator(schemes=["http", "https"])


class Commenters:
    def __init__(self, site: Site, source: str, report: ImportReport) -> None:
        self.site = site
        self.source = source
        self.report = report
        self.cache: OrderedDict[str, int] = OrderedDict()

    def ids(self, authors: list[SourceAuthor]) -> list[int | None]:
        """The commenter id of each author (None: no key nor email), created when new."""
        keys = [self.key(author) for author in authors]
        missing = {key for key in keys if key is not None and key not in self.cache}
        if missing:
            names = [(self.source, key) for key in missing]
            for (_, found), pk in items.known(self.site, ImportedKind.COMMENTER, names).items():
                self._cache(found, pk)
                missing.discard(found)
        if missing:
            self._create(
                {k: author for k, author in zip(keys, authors, strict=True) if k in missing}
            )
        ids: list[int | None] = []
        for k in keys:
            target = self.cache.get(k) if k is not None else None
            ids.append(target)
            if target is not None:
                self.cache.move_to_end(k)  # type: ignore[arg-type]
        return ids

    @staticmethod
    def key(author: SourceAuthor) -> str | None:
        if author.key:
            key = "key:" + author.key
        elif author.email.strip():
            key = f"name:{clean_name(author.name)} <{author.email.strip().lower()}>"
        else:
            return None
        return key if len(key) <= 255 else "sha256:" + hashlib.sha256(key.encode()).hexdigest()

    def _create(self, authors: dict[str, SourceAuthor]) -> None:
        # An SSO identity already on the site (Townhall's own export) is that person again.
        subjects = {a.external_id for a in authors.values() if a.external_id}
        by_subject = dict(
            Commenter.objects.filter(site=self.site, external_id__in=subjects).values_list(
                "external_id", "pk"
            )
            if subjects
            else []
        )
        new: dict[str, Commenter] = {}
        found: dict[str, int] = {}
        for key, author in authors.items():
            if author.external_id and author.external_id in by_subject:
                found[key] = by_subject[author.external_id]
                self._cache(key, found[key])
                continue
            new[key] = Commenter(
                site=self.site,
                kind=author.kind if author.kind in _KINDS else CommenterKind.GUEST,
                display_name=clean_name(author.name),
                email=self._clean_email(author),
                external_id=author.external_id[:255],
                email_confirmed=aware(author.email_confirmed) if author.email_confirmed else None,
                avatar_url=_clean_avatar(author.avatar_url),
            )
        Commenter.objects.bulk_create(new.values())
        dated = []
        for key, commenter in new.items():
            created = authors[key].created
            if created is not None:
                commenter.created = aware(created)
                dated.append(commenter)
        if dated:
            # ``created`` is auto_now_add: the source's time is set after the insert.
            Commenter.objects.bulk_update(dated, ["created"])
        for key, commenter in new.items():
            self._cache(key, commenter.pk)
        # The file's id is remembered for a reused identity too: the site's next export names
        # that reader as this file did.
        items.remember(
            self.site,
            ImportedKind.COMMENTER,
            [(self.source, key) for key in [*new, *found]],
            [commenter.pk for commenter in new.values()] + list(found.values()),
        )
        self.report.commenters_created += len(new)

    def _clean_email(self, author: SourceAuthor) -> str:
        email = author.email.strip()
        if not email:
            return ""
        try:
            validate_email(email)
        except ValidationError:
            self.report.problem(
                f"commenter {clean_name(author.name)!r}", f"Invalid email {email[:80]!r} dropped."
            )
            return ""
        return email

    def _cache(self, key: str, pk: int) -> None:
        self.cache[key] = pk
        self.cache.move_to_end(key)
        while len(self.cache) > CACHE_SIZE:
            self.cache.popitem(last=False)


def clean_name(name: str) -> str:
    """A name as a comment shows it: whitespace collapsed, clipped, "Anonymous" when empty."""
    return " ".join(name.split())[:MAX_NAME_CHARS] or ANONYMOUS_NAME


def aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _clean_avatar(url: str) -> str:
    url = url.strip()
    if not url or len(url) > 500:
        return ""
    try:
        _url_ok(url)
    except ValidationError:
        return ""
    return url
