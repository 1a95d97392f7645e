"""Townhall's own export: a site's discussions as JSON Lines (docs/export-format.md).

The file is what ``sources/townhall.py`` reads back, and exporting what it imported gives the
same bytes: nothing in it depends on the exporting database.

- Ids. A row's id in the file is the source id it was imported under from a Townhall export
  (``ImportedItem`` with ``source="townhall"``), else its own primary key. So a site exported,
  imported elsewhere and exported again keeps its ids, and the second server's own rows keep
  theirs. A row's own key that an imported row already uses is written ``<slug>.<pk>``, so ids
  stay unique within a file.
- Order. Threads by URL key; commenters by (created, id); comments by (thread's URL key,
  created, id); votes by voter key; provenance by (format, source id). Every key is one that
  survives the round trip, never a primary key alone, and text compares as bytes whatever the
  database's collation: SQLite and PostgreSQL write the same file.
- Times are UTC with microseconds; keys are sorted; there is no export timestamp.

Everything is read in chunks (``iterator(chunk_size=…)`` on ``values()``), with the ids, votes
and provenance of each chunk looked up together: memory grows with the chunk, not the site.
"""

from __future__ import annotations

import gzip
import os
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any, Protocol

import orjson
from django.db import connection, transaction
from django.db.models import (
    Case,
    CharField,
    Exists,
    F,
    Model,
    OuterRef,
    Subquery,
    Value,
    When,
)
from django.db.models.expressions import Combinable
from django.db.models.functions import Cast, Coalesce, Collate, Concat, Substr

from townhall.discussions.models import Comment, Thread, Vote
from townhall.identity.models import Commenter
from townhall.migration.models import ImportedItem, ImportedKind
from townhall.sites.models import Site

FORMAT = "townhall-export"
VERSION = 1
SOURCE = "townhall"  # ImportedItem.source of rows imported from this format
CHUNK_SIZE = 250

# The site's settings written in the header: what shapes its discussions and who may take part
# in them. Keys, secrets and moderation word lists are not among them.
SITE_SETTINGS = (
    "slug",
    "name",
    "allowed_origins",
    "moderation_mode",
    "max_depth",
    "edit_window_seconds",
    "max_comment_chars",
    "signin_guest",
    "signin_email",
    "signin_sso",
    "guest_requires_name",
    "guest_requires_email",
    "sso_algorithm",
    "sso_trust_email",
    "deletion_policy",
)

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE


class Sink(Protocol):
    """Where the export's bytes go: a binary file, stdout's buffer, a gzip stream."""

    def write(self, data: bytes, /) -> object: ...


@dataclass
class ExportSummary:
    threads: int = 0
    commenters: int = 0
    comments: int = 0
    votes: int = 0


def iso(value: datetime | None) -> str | None:
    """A time as the file writes it: UTC, always with microseconds."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def line(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record, option=_OPTIONS)


def file_id(site: Site, kind: str, ref: str) -> Combinable:
    """The expression of a row's id in the file (see the module's docstring); ``ref`` names the
    row's primary key or a foreign key to it. NULL for a NULL key."""
    # The engine remembers a commenter under "key:" and the author's key in the file.
    prefix = "key:" if kind == ImportedKind.COMMENTER else ""
    # A row may have come from several exports (the same URL in two files): the least id is
    # its id, the others go with its provenance.
    imported = (
        ImportedItem.objects.filter(site=site, source=SOURCE, kind=kind, target_id=OuterRef(ref))
        .order_by(*_bytewise("source_id"))
        .values("source_id")[:1]
    )
    own = Cast(ref, output_field=CharField())
    taken = ImportedItem.objects.filter(
        site=site,
        source=SOURCE,
        kind=kind,
        source_id=Concat(Value(prefix), Cast(OuterRef(ref), CharField())),
    )
    return Coalesce(
        Substr(Subquery(imported), len(prefix) + 1),
        Case(When(Exists(taken), then=Concat(Value(f"{site.slug}."), own)), default=own),
        output_field=CharField(),
    )


def export_site(site: Site, out: Sink) -> ExportSummary:
    """Writes ``site``'s discussions to ``out``. Reads only; on PostgreSQL from one snapshot.

    SQLite takes its write lock at the start of every transaction here (``transaction_mode``
    IMMEDIATE), so there each chunk reads what is committed when it runs.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        # Inside a caller's transaction, its snapshot is the one read.
        return _write(site, out)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return _write(site, out)


def export_site_to_file(site: Site, path: Path) -> ExportSummary:
    """Writes the export to ``path`` (gzip-compressed when it ends in ``.gz``), atomically: a
    reader of ``path`` sees the old file or the whole new one."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as raw:
            if path.name.endswith(".gz"):
                # No name and no time in the gzip header: the same export, the same bytes.
                with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as compressed:
                    summary = export_site(site, compressed)
            else:
                summary = export_site(site, raw)
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return summary


def _write(site: Site, out: Sink) -> ExportSummary:
    summary = ExportSummary()
    out.write(line(header(site)))
    for record in _threads(site):
        out.write(line(record))
        summary.threads += 1
    for record in _commenters(site):
        out.write(line(record))
        summary.commenters += 1
    for record in _comments(site):
        out.write(line(record))
        summary.comments += 1
        summary.votes += len(record["votes"])
    return summary


def header(site: Site) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "site": {name: getattr(site, name) for name in SITE_SETTINGS},
    }


def _bytewise(*names: str) -> list[Any]:
    """Text columns to order by as their bytes compare, whatever the database's collation, so
    SQLite and PostgreSQL write the same file (and Python's sort of strings agrees)."""
    if connection.vendor != "postgresql":
        return list(names)  # SQLite compares text with BINARY
    return [Collate(F(name), "C") for name in names]


def _chunks(rows: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, CHUNK_SIZE)):
        yield chunk


def _provenance(site: Site, kind: str, chunk: list[dict[str, Any]]) -> dict[int, list[list[str]]]:
    """What each row of the chunk was imported as, besides its id in the file."""
    ids = {row["pk"]: row["file_id"] for row in chunk}
    found: dict[int, list[list[str]]] = defaultdict(list)
    items = (
        ImportedItem.objects.filter(site=site, kind=kind, target_id__in=ids)
        .order_by(*_bytewise("source", "source_id"))
        .values_list("target_id", "source", "source_id")
    )
    for target_id, source, source_id in items:
        if (source, source_id) != (SOURCE, ids[target_id]):
            found[target_id].append([source, source_id])
    return found


def _rows(model: type[Model], site: Site, kind: str, filters: dict[str, Any]) -> Any:
    return model._default_manager.filter(**filters).annotate(file_id=file_id(site, kind, "pk"))


def _threads(site: Site) -> Iterator[dict[str, Any]]:
    rows = (
        _rows(Thread, site, ImportedKind.THREAD, {"site": site})
        .order_by(*_bytewise("url_key"))
        .values("pk", "file_id", "url", "title", "is_open", "created")
    )
    for chunk in _chunks(rows.iterator(chunk_size=CHUNK_SIZE)):
        imported_from = _provenance(site, ImportedKind.THREAD, chunk)
        for row in chunk:
            yield {
                "type": "thread",
                "id": row["file_id"],
                "url": row["url"],
                "title": row["title"],
                "is_open": row["is_open"],
                "created": iso(row["created"]),
                "imported_from": imported_from.get(row["pk"], []),
            }


def _commenters(site: Site) -> Iterator[dict[str, Any]]:
    rows = (
        _rows(Commenter, site, ImportedKind.COMMENTER, {"site": site})
        .order_by("created", *_bytewise("file_id"))
        .values(
            "pk",
            "file_id",
            "kind",
            "display_name",
            "email",
            "email_confirmed",
            "avatar_url",
            "external_id",
            "created",
        )
    )
    # No provenance for commenters: an import finds a commenter again through the comments.
    for row in rows.iterator(chunk_size=CHUNK_SIZE):
        yield {
            "type": "commenter",
            "id": row["file_id"],
            "kind": row["kind"],
            "name": row["display_name"],
            "email": row["email"],
            "email_confirmed": iso(row["email_confirmed"]),
            "avatar": row["avatar_url"],
            "external_id": row["external_id"],
            "created": iso(row["created"]),
        }


_COMMENT_FIELDS = (
    "pk",
    "file_id",
    "thread_file_id",
    "parent_file_id",
    "author_file_id",
    "author_name",
    "body",
    "body_html",
    "status",
    "upvotes",
    "downvotes",
    "passage",
    "featured",
    "created",
    "edited",
)


def _comments(site: Site) -> Iterator[dict[str, Any]]:
    rows = (
        _rows(Comment, site, ImportedKind.COMMENT, {"thread__site": site})
        .annotate(
            thread_file_id=file_id(site, ImportedKind.THREAD, "thread_id"),
            parent_file_id=file_id(site, ImportedKind.COMMENT, "parent_id"),
            author_file_id=file_id(site, ImportedKind.COMMENTER, "author_id"),
            thread_key=F("thread__url_key"),
        )
        .order_by(*_bytewise("thread_key"), "created", *_bytewise("file_id"))
        .values(*_COMMENT_FIELDS)
    )
    for chunk in _chunks(rows.iterator(chunk_size=CHUNK_SIZE)):
        imported_from = _provenance(site, ImportedKind.COMMENT, chunk)
        votes = _votes(site, [row["pk"] for row in chunk])
        for row in chunk:
            yield {
                "type": "comment",
                "id": row["file_id"],
                "thread": row["thread_file_id"],
                "parent": row["parent_file_id"],
                "author": row["author_file_id"],
                "author_name": row["author_name"],
                "body": row["body"],
                "html": row["body_html"],
                "status": row["status"],
                "upvotes": row["upvotes"],
                "downvotes": row["downvotes"],
                "passage": row["passage"],
                "featured": row["featured"],
                "created": iso(row["created"]),
                "edited": iso(row["edited"]),
                "votes": votes.get(row["pk"], []),
                "imported_from": imported_from.get(row["pk"], []),
            }


def _votes(site: Site, pks: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The votes on these comments, a commenter's voter key (``c:<id>``) naming the commenter
    by its id in the file."""
    rows = list(
        Vote.objects.filter(comment_id__in=pks).values(
            "comment_id", "voter_key", "value", "created"
        )
    )
    voters = {
        int(key[2:])
        for key in (row["voter_key"] for row in rows)
        if key.startswith("c:") and key[2:].isdigit()
    }
    ids = dict(
        _rows(
            Commenter, site, ImportedKind.COMMENTER, {"site": site, "pk__in": voters}
        ).values_list("pk", "file_id")
    )
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        key = row["voter_key"]
        if key.startswith("c:") and key[2:].isdigit() and int(key[2:]) in ids:
            key = f"c:{ids[int(key[2:])]}"
        found[row["comment_id"]].append(
            {"voter_key": key, "value": row["value"], "created": iso(row["created"])}
        )
    for votes in found.values():
        votes.sort(key=lambda vote: vote["voter_key"])
    return found
