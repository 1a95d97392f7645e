"""Writes a stream of source records (``records.py``) into a site: ``run_import``.

One transaction for the whole file: it is all imported or, on any error, none of it (a dry run
does everything, then rolls back, so its report is exact). On SQLite that transaction holds the
database's one write lock from start to end: readers go on (WAL), writers wait.

Memory stays bounded whatever the file's size: comments are written in batches
(``BATCH_SIZE``); a reply's parent is found in the batch or, when it came earlier, in the
database (``ImportedItem`` joined to ``Comment``, one query a batch); commenters go through a
small LRU of source keys. What grows with the file is only what must: one entry per thread, one
per comment the file excluded (so that replies to it are known broken at once), and the replies
that came before their parent, held until it comes.

Rendering the text (the costliest step) runs in helper processes for large imports
(``text.Renderer``): batch N+1 is rendered while batch N is written.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from django.db import router, transaction
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from townhall.core.errors import BadRequest
from townhall.discussions.actions import (
    MAX_TITLE_CHARS,
    _place_in_tree,
    bump_thread,
)
from townhall.discussions.models import Comment, CommentStatus, Thread, Vote
from townhall.discussions.pages import Article, resolve_article
from townhall.migration import app_settings, items
from townhall.migration.commenters import Commenters, aware, clean_name
from townhall.migration.items import db_id, name
from townhall.migration.models import ImportedItem, ImportedKind
from townhall.migration.records import (
    Problem,
    Record,
    Skipped,
    SourceAuthor,
    SourceComment,
    SourceThread,
)
from townhall.migration.report import ImportReport
from townhall.migration.text import Renderer, Rendering, comment_text
from townhall.sites.models import Site

BATCH_SIZE = 1000
_STATUSES = frozenset(CommentStatus.values)


def run_import(
    site: Site,
    records: Iterable[Record],
    *,
    source: str,
    dry_run: bool = False,
    base_url: str | None = None,
    on_record: Callable[[], None] | None = None,
) -> ImportReport:
    """Imports ``records`` (one source file, in its order) into ``site`` as format ``source``.

    Precondition: ``base_url``, when given, is an absolute http(s) URL (the command checks it).
    All or nothing: any exception (from the reader too) rolls every write back; ``dry_run``
    rolls back at the end. Imported comments skip the moderation pipeline, notifications and
    live events; touched threads get their count recomputed and a new version.
    """
    alias = router.db_for_write(Comment)
    report = ImportReport(source=source, dry_run=dry_run)
    importer = _Importer(site, source, report, base_url)
    ok = False
    try:
        with transaction.atomic(using=alias):
            for record in records:
                importer.add(record)
                if on_record is not None:
                    on_record()
            importer.finish()
            if dry_run:
                transaction.set_rollback(True, using=alias)
        ok = True
    finally:
        importer.renderer.close(ok=ok)
    return report


@dataclass(slots=True)
class _Pending:
    record: SourceComment
    thread_id: int
    broken: bool = False  # its parent is known missing: placed at the top level
    text: tuple[str, str] | None = None  # (body, body_html) when rendered ahead


class _Importer:
    def __init__(self, site: Site, source: str, report: ImportReport, base_url: str | None):
        self.site = site
        self.source = source
        self.report = report
        self.base_url = base_url or (site.allowed_origins[0] if site.allowed_origins else "")
        # source thread id → Townhall thread id (None: the thread could not be imported).
        self.threads: dict[str, int | None] = {}
        self.skipped_threads: dict[str, str] = {}  # source id → reason
        self.skipped_comments: set[str] = set()
        self.touched: set[int] = set()
        self.warned_origins: set[str] = set()
        self.batch: list[_Pending] = []
        # Replies whose parent has not come yet, by the parent's source id.
        self.held: dict[str, list[_Pending]] = defaultdict(list)
        self.held_count = 0
        self.commenters = Commenters(site, source, report)
        self.in_flight: deque[tuple[list[_Pending], Rendering]] = deque()
        self.renderer = Renderer(app_settings.import_render_processes(), least=BATCH_SIZE)

    # ---- the stream ---------------------------------------------------------------------------

    def add(self, record: Record) -> None:
        if isinstance(record, SourceComment):
            self._comment(record)
        elif isinstance(record, SourceThread):
            self._thread(record)
        elif isinstance(record, Skipped):
            self.report.skip(record.reason)
            if record.kind == "thread":
                self.skipped_threads[record.source_id] = record.reason
            else:
                self.skipped_comments.add(record.source_id)
        elif isinstance(record, Problem):
            self.report.problem(record.where, record.message)

    def finish(self) -> None:
        self._flush(final=True)
        # What is still held waits for a parent the file never had: broken references. Those
        # whose parent is itself held are released when it is written.
        while self.held:
            waiting = {item.record.source_id for items in self.held.values() for item in items}
            orphans = [parent for parent in self.held if parent not in waiting] or list(self.held)
            for parent in orphans:
                for item in self.held.pop(parent):
                    self.held_count -= 1
                    self._mark_broken(item)
                    self.batch.append(item)
                    if len(self.batch) >= BATCH_SIZE:
                        self._flush()
            self._flush(final=True)
        self._recount()

    # ---- threads ------------------------------------------------------------------------------

    def _thread(self, record: SourceThread) -> None:
        if record.source_id in self.threads:
            return
        names = [name(self.source, record.source_id), *(name(*a) for a in record.aliases)]
        known = items.known(self.site, ImportedKind.THREAD, names)
        thread_id = next((known[n] for n in names if n in known), None)
        if thread_id is not None and Thread.objects.filter(pk=thread_id, site=self.site).exists():
            self.report.threads_existing += 1
        else:
            thread_id = self._resolve_thread(record)
            if thread_id is None:
                self.threads[record.source_id] = None
                return
            if known:
                # Imported before into a thread deleted since: the names now mean this one.
                items.retarget(self.site, ImportedKind.THREAD, known, thread_id)
        new_names = [n for n in names if n not in known]
        items.remember(self.site, ImportedKind.THREAD, new_names, [thread_id] * len(new_names))
        self.threads[record.source_id] = thread_id

    def _resolve_thread(self, record: SourceThread) -> int | None:
        where = f"thread {record.source_id}"
        url = record.url.strip()
        if url and not urlsplit(url).scheme:
            if not self.base_url:
                self.report.problem(where, f"{url!r} is a path and there is no base URL.")
                return None
            url = urljoin(self.base_url, url)
        try:
            article = resolve_article(url)
        except BadRequest:
            self.report.problem(
                where, f"No usable URL ({record.url[:100]!r}): its comments are left out."
            )
            return None
        self._check_origin(article)
        existing = Thread.objects.filter(site=self.site, url_key=article.key).first()
        if existing is not None:
            self.report.threads_existing += 1
            return existing.pk
        thread = Thread.objects.create(
            site=self.site,
            url_key=article.key,
            url=article.canonical_url,
            title=" ".join(record.title.split())[:MAX_TITLE_CHARS],
            is_open=record.is_open,
        )
        if record.created is not None:
            # ``created`` is auto_now_add: set the source's time after the insert.
            Thread.objects.filter(pk=thread.pk).update(created=aware(record.created))
        self.report.threads_created += 1
        return thread.pk

    def _check_origin(self, article: Article) -> None:
        if self.site.allows_origin(article.origin) or article.origin in self.warned_origins:
            return
        self.warned_origins.add(article.origin)
        self.report.problem(
            article.origin,
            f"Not an allowed origin of site {self.site.slug!r}: its threads are imported, but the "
            "widget shows them only once the origin is added to the site.",
        )

    # ---- comments -----------------------------------------------------------------------------

    def _comment(self, record: SourceComment) -> None:
        where = f"comment {record.source_id}"
        if record.thread_id in self.skipped_threads:
            self.report.skip(self.skipped_threads[record.thread_id])
            self.skipped_comments.add(record.source_id)
            return
        thread_id = self.threads.get(record.thread_id)
        if thread_id is None:
            if record.thread_id in self.threads:
                self.report.skip("thread not imported")
            else:
                self.report.skip("unknown thread")
                self.report.problem(where, f"Its thread {record.thread_id!r} is not in the file.")
            self.skipped_comments.add(record.source_id)
            return
        self.batch.append(_Pending(record, thread_id))
        if len(self.batch) >= BATCH_SIZE:
            self._flush()

    def _flush(self, *, final: bool = False) -> None:
        """Writes the batches collected. Each batch's text is rendered ahead by the render
        processes while the one before it is written; ``final`` writes them all."""
        while self.batch:
            batch, self.batch = self.batch[:BATCH_SIZE], self.batch[BATCH_SIZE:]
            self.in_flight.append((batch, self._render(batch)))
            if len(self.in_flight) > 1:
                self._write_batch(*self.in_flight.popleft())
        while final and self.in_flight:
            self._write_batch(*self.in_flight.popleft())
            # Writing releases replies held for what it wrote: they are a batch of their own.
            while self.batch:
                batch, self.batch = self.batch[:BATCH_SIZE], self.batch[BATCH_SIZE:]
                self.in_flight.append((batch, self._render(batch)))

    def _render(self, batch: list[_Pending]) -> Rendering:
        self.renderer.least = BATCH_SIZE  # (tests shrink the batches)
        # A comment imported before is not written again (``_write_batch`` decides): its text
        # is not worth rendering. One indexed query a batch makes a second run cheap.
        names = [_names(self.source, item.record) for item in batch]
        known = items.known(self.site, ImportedKind.COMMENT, [n for ns in names for n in ns])
        return self.renderer.submit(
            [
                (None, None)
                if any(n in known for n in ns)
                else (item.record.markdown, item.record.html)
                for item, ns in zip(batch, names, strict=True)
            ]
        )

    def _write_batch(self, batch: list[_Pending], rendering: Rendering) -> None:
        rendered = rendering.get()
        texts: list[tuple[str, str] | None] = [None] * len(batch)
        if rendered is not None:
            texts[:] = rendered
        for item, text in zip(batch, texts, strict=True):
            item.text = text
        # 1. Comments imported before (by any of their names), or twice in this batch.
        names_of = {id(item): _names(self.source, item.record) for item in batch}
        known = items.known(
            self.site, ImportedKind.COMMENT, [n for ns in names_of.values() for n in ns]
        )
        new: list[_Pending] = []
        seen: set[tuple[str, str]] = set()
        for item in batch:
            names = names_of[id(item)]
            if any(name in known or name in seen for name in names):
                self.report.comments_existing += 1
                self._release(item.record)
                continue
            seen.update(names)
            new.append(item)
        if not new:
            return
        # 2. Parents: in this batch, written before (one query), excluded, or not yet come.
        in_batch = {item.record.source_id for item in new}
        wanted = {
            item.record.parent_id
            for item in new
            if item.record.parent_id and not item.broken and item.record.parent_id not in in_batch
        }
        earlier = self._earlier_parents(wanted)
        ready: list[tuple[_Pending, Comment | None]] = []
        waiting: dict[str, list[_Pending]] = defaultdict(list)
        for item in new:
            parent_id = item.record.parent_id
            if not parent_id or item.broken:
                ready.append((item, None))
            elif parent_id in in_batch:
                waiting[parent_id].append(item)
            elif parent_id in earlier:
                parent = earlier[parent_id]
                if parent.thread_id != item.thread_id:
                    self._mark_broken(item)
                    ready.append((item, None))
                else:
                    ready.append((item, parent))
            elif parent_id in self.skipped_comments:
                self._mark_broken(item)
                ready.append((item, None))
            else:
                self.held[parent_id].append(item)
                self.held_count += 1
        # 3. Written in waves: each wave's replies are the next one.
        while ready:
            written = self._write(ready)
            ready = []
            for source_id, comment in written.items():
                for child in waiting.pop(source_id, []):
                    if comment.thread_id != child.thread_id:
                        self._mark_broken(child)
                        ready.append((child, None))
                    else:
                        ready.append((child, comment))
        # Replies to a comment of this batch that is itself held wait with it.
        for parent_id, children in waiting.items():
            self.held[parent_id].extend(children)
            self.held_count += len(children)

    def _mark_broken(self, item: _Pending) -> None:
        item.broken = True
        self.report.broken(item.record.source_id)

    def _release(self, record: SourceComment) -> None:
        """Replies held for this comment go to the next batch: it is in the database now."""
        for held_id in (record.source_id, *(i for s, i in record.aliases if s == self.source)):
            for item in self.held.pop(held_id, []):
                self.held_count -= 1
                self.batch.append(item)

    def _write(self, ready: list[tuple[_Pending, Comment | None]]) -> dict[str, Comment]:
        authors = self.commenters.ids([item.record.author for item, _ in ready])
        comments = []
        for (item, parent), author_id in zip(ready, authors, strict=True):
            comments.append(self._build(item, parent, author_id))
        Comment.objects.bulk_create(comments)
        written: dict[str, Comment] = {}
        names: list[tuple[tuple[str, str], int]] = []
        for (item, _), comment in zip(ready, comments, strict=True):
            record = item.record
            written[record.source_id] = comment
            self.touched.add(item.thread_id)
            names += [(n, comment.pk) for n in _names(self.source, record)]
        items.remember(
            self.site, ImportedKind.COMMENT, [n for n, _ in names], [pk for _, pk in names]
        )
        self._write_votes(
            [(item.record, comment) for (item, _), comment in zip(ready, comments, strict=True)]
        )
        self.report.comments_created += len(comments)
        for item, _ in ready:
            self._release(item.record)
        return written

    def _build(self, item: _Pending, parent: Comment | None, author_id: int | None) -> Comment:
        record = item.record
        where = f"comment {record.source_id}"
        body, html = item.text or comment_text(record.markdown, record.html)
        item.text = None
        status = record.status
        if status not in _STATUSES:
            self.report.problem(where, f"Unknown status {status!r}: imported as pending.")
            status = CommentStatus.PENDING
        upvotes, downvotes = max(record.upvotes, 0), max(record.downvotes, 0)
        comment = Comment(
            thread_id=item.thread_id,
            author_id=author_id,
            author_name=self._author_name(record),
            body=body,
            body_html=html,
            status=status,
            upvotes=upvotes,
            downvotes=downvotes,
            score=upvotes - downvotes,
            passage=record.passage if parent is None else None,
            featured=record.featured,
            created=aware(record.created),
            edited=aware(record.edited) if record.edited else None,
        )
        _place_in_tree(comment, parent, max_depth=self.site.max_depth)
        return comment

    @staticmethod
    def _author_name(record: SourceComment) -> str:
        if "author_name" in record.extra:
            # Townhall's own export: the name shown on the comment, as it was (its author's may
            # have changed since; a deleted placeholder shows none).
            return " ".join(str(record.extra["author_name"] or "").split())[:80]
        return clean_name(record.author.name)

    def _write_votes(self, written: list[tuple[SourceComment, Comment]]) -> None:
        """The votes of these new comments. A voter the record names as a commenter of the file
        (Townhall's ``c:<id>`` keys, ``extra["voters"]``) votes as that commenter here."""
        named = [
            (key, author)
            for record, _ in written
            for key, author in (record.extra.get("voters") or {}).items()
            if isinstance(author, SourceAuthor)
        ]
        commenter_ids = self.commenters.ids([author for _, author in named]) if named else []
        keys = {
            key: f"c:{pk}"
            for (key, _), pk in zip(named, commenter_ids, strict=True)
            if pk is not None
        }
        votes, dated = [], []
        for record, comment in written:
            seen = set()
            for vote in record.votes:
                key = keys.get(vote.voter_key, vote.voter_key)
                key = key if len(key) <= 40 else _digest(key, 38)
                if vote.value not in (-1, 1) or key in seen:
                    continue
                seen.add(key)
                votes.append(Vote(comment=comment, voter_key=key, value=vote.value))
                if vote.created is not None:
                    dated.append((votes[-1], aware(vote.created)))
        if not votes:
            return
        Vote.objects.bulk_create(votes)  # the comments are new: no vote of theirs exists
        if dated:
            for row, created in dated:
                row.created = created
            # ``created`` is auto_now_add: the source's time is set after the insert.
            Vote.objects.bulk_update([row for row, _ in dated], ["created"])
        self.report.votes_created += len(votes)

    def _earlier_parents(self, source_ids: set[str]) -> dict[str, Comment]:
        """Comments written before (this import or an earlier one), by source id."""
        if not source_ids:
            return {}
        wanted = {db_id(source_id): source_id for source_id in source_ids}
        targets = {
            target: wanted[stored]
            for target, stored in ImportedItem.objects.filter(
                site=self.site,
                source=self.source[:16],
                kind=ImportedKind.COMMENT,
                source_id__in=wanted,
            ).values_list("target_id", "source_id")
        }
        found = {}
        rows = Comment.objects.filter(pk__in=targets).values_list(
            "id", "thread_id", "root_id", "nest_parent_id", "depth"
        )
        for pk, thread_id, root_id, nest_parent_id, depth in rows:
            found[targets[pk]] = Comment(
                pk=pk,
                thread_id=thread_id,
                root_id=root_id,
                nest_parent_id=nest_parent_id,
                depth=depth,
            )
        return found

    # ---- the end ------------------------------------------------------------------------------

    def _recount(self) -> None:
        """Each touched thread: its visible comments counted, and a new version (so cached pages
        of it are renewed once the transaction commits)."""
        touched = sorted(self.touched)
        visible = (
            Comment.objects.filter(thread=OuterRef("pk"), status=CommentStatus.VISIBLE)
            .order_by()
            .values("thread")
            .annotate(n=Count("*"))
            .values("n")
        )
        for start in range(0, len(touched), 500):
            chunk = touched[start : start + 500]
            Thread.objects.filter(pk__in=chunk).update(
                comment_count=Coalesce(Subquery(visible, output_field=IntegerField()), Value(0))
            )
            for thread in Thread.objects.filter(pk__in=chunk).only("id", "url_key", "site_id"):
                thread.site = self.site
                bump_thread(thread, count_delta=0)


def _names(source: str, record: SourceComment) -> list[tuple[str, str]]:
    return [name(source, record.source_id), *(name(*alias) for alias in record.aliases)]


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]
