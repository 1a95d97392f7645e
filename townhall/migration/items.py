"""``ImportedItem``: the source names (format, source id) of what a site imported, and the
Townhall ids they became. The engine asks for many names at once, one query a batch."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Q

from townhall.migration.models import ImportedItem
from townhall.sites.models import Site


def name(source: str, source_id: str) -> tuple[str, str]:
    """A (format, source id) as ``ImportedItem`` holds it: ids past its 255 characters are
    hashed (the same id, the same hash)."""
    return source[:16], db_id(source_id)


def db_id(source_id: str) -> str:
    if len(source_id) <= 255:
        return source_id
    return "sha256:" + hashlib.sha256(source_id.encode()).hexdigest()


def known(site: Site, kind: str, names: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """(source, source id) → target id, of the names already imported into the site."""
    by_source: dict[str, set[str]] = defaultdict(set)
    for source, source_id in names:
        by_source[source[:16]].add(source_id)
    if not by_source:
        return {}
    condition = Q()
    for source, ids in by_source.items():
        condition |= Q(source=source, source_id__in=ids)
    rows = ImportedItem.objects.filter(condition, site=site, kind=kind).values_list(
        "source", "source_id", "target_id"
    )
    return {(source, source_id): target for source, source_id, target in rows}


def retarget(site: Site, kind: str, names: Iterable[tuple[str, str]], target: int) -> None:
    """Points these names at another row (theirs was deleted since)."""
    condition = Q()
    for source, source_id in names:
        condition |= Q(source=source, source_id=source_id)
    ImportedItem.objects.filter(condition, site=site, kind=kind).update(target_id=target)


def remember(site: Site, kind: str, names: list[tuple[str, str]], targets: list[int]) -> None:
    """Records new names. Precondition: none of them is known yet (``known``)."""
    ImportedItem.objects.bulk_create(
        ImportedItem(site=site, source=source[:16], kind=kind, source_id=source_id, target_id=pk)
        for (source, source_id), pk in zip(names, targets, strict=True)
    )
