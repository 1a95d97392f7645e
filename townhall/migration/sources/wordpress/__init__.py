"""WordPress: a WXR export (Tools → Export), with wpDiscuz's votes and inline feedback.

WXR is RSS 2.0 with WordPress's ``wp:`` namespace (export/1.0, 1.1 or 1.2 — elements are
matched by local name, so any version reads). Each ``<item>`` is a post, page or other content
with its ``<wp:comment>`` elements inside; the file is read item by item with lxml's
``iterparse`` and each item is dropped once read, so memory stays flat however large it is.

What becomes what:

- **Threads.** An item is a thread when it has comments, or when its discussion is closed
  (a published post or page: importing it keeps readers from opening a discussion WordPress
  had closed). Items with neither are left out: Townhall creates a thread on the first
  comment. ``source_id`` is ``wp:post_id`` (else the link); the URL is ``<link>`` as it is,
  ``?p=4`` style included. A trashed item is a ``Skipped`` thread and its comments are
  skipped as ``trash``.
- **Comments.** ``source_id`` is ``"<post source_id>/<wp:comment_id>"``: WordPress's comment
  ids are unique per site, but hand-made and merged exports repeat them across posts, and
  scoping them by post costs nothing. ``wp:comment_approved`` 1 → visible, 0 → pending,
  ``spam`` → skipped as spam, ``trash``/``post-trashed`` → skipped as trash. Pingbacks and
  trackbacks are skipped as ``pingback``; comment types that are not readers' comments
  (WooCommerce order notes and the like) are skipped as ``not-a-comment``.
- **Text.** WordPress stores a comment as the reader typed it, HTML allowed, and shows it
  through ``wpautop``: a blank line separates paragraphs, a single newline is a line break.
  :func:`.autop.autop` does the same, so ``html`` is what the reader saw.
- **wpDiscuz votes.** Comment meta ``wpdiscuz_votes_seperate`` is a PHP-serialized
  ``array("like" => int, "dislike" => int)`` (both counts positive); when it is missing, the
  net score ``wpdiscuz_votes`` gives ``max(net, 0)`` up and ``max(-net, 0)`` down.
- **wpDiscuz inline feedback.** The author marks a passage in the post with
  ``[wpdiscuz-feedback id="…" question="…" opened="0|1"]passage[/wpdiscuz-feedback]``; a
  reader's comment on it carries the comment meta ``wpdiscuz_feedback_form_id``. That meta
  holds the row id of wpDiscuz's own ``wc_feedback_forms`` table, which the export does not
  contain, so :class:`.wpdiscuz.Feedback` matches it to a shortcode: by the shortcode's ``id`` when
  they are equal; else the post's only shortcode; else, when the post's comments name as
  many forms as the post has shortcodes, in order (wpDiscuz numbers a post's forms in the
  order of its shortcodes when the post is saved). Otherwise the comment is imported without
  its passage and a ``Problem`` says so. The passage is Townhall's (``comment.passage``),
  measured on the post's plain text (HTML stripped, feedback shortcodes unwrapped), with the
  shortcode's id (when it is a valid passage id) and question.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lxml import etree

from townhall.migration.records import (
    Problem,
    Record,
    Skipped,
    SourceAuthor,
    SourceComment,
    SourceError,
    SourceThread,
    open_counted,
)
from townhall.migration.sources.wordpress.autop import autop
from townhall.migration.sources.wordpress.wpdiscuz import META_FEEDBACK_FORM, Feedback, votes

WXR_NAMESPACE = "http://wordpress.org/export/"
CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"
ANONYMOUS = "Anonymous"

_APPROVED = {"1": "visible", "approve": "visible", "0": "pending", "hold": "pending"}
_SKIPPED = {"spam": "spam", "trash": "trash", "post-trashed": "trash"}
# Readers' comments: WordPress's own ("" before 5.5, "comment" since), WooCommerce reviews,
# wpDiscuz's sticky comments.
_COMMENT_TYPES = {"", "comment", "review", "wpdiscuz_sticky"}
_PINGBACKS = {"pingback", "trackback"}
# Content whose closed discussion is a thread even without comments (not attachments, menu
# items and the like, which WordPress exports as closed too).
_CONTENT_TYPES = {"post", "page"}


def read(path: Path, *, on_bytes: Callable[[int], None] | None = None) -> Iterator[Record]:
    """The threads and comments of a WXR file, in the file's order (see the module docstring).

    Raises ``SourceError`` before yielding anything when the file is missing, not XML, or XML
    but not a WordPress export; a file that breaks off part way yields what came before and a
    ``Problem``.
    """
    _check_root(path)
    items = 0
    with open_counted(path, on_bytes) as stream:
        parser = _parser(stream, events=("end",), tag="item")
        try:
            for _event, element in parser:
                items += 1
                yield from _item(element)
                # Drop the item and everything before it: memory stays flat.
                element.clear(keep_tail=False)
                while element.getprevious() is not None:
                    del element.getparent()[0]
        except etree.XMLSyntaxError as exc:
            yield Problem(f"line {exc.lineno}", f"the file breaks off here: {exc.msg}")
            return
        # recover=True reads past broken XML (a truncated file, a stray "&"); say where.
        errors = [e for e in parser.error_log if e.level_name in ("ERROR", "FATAL")]
        if errors:
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            yield Problem(
                f"line {errors[0].line}",
                f"broken XML, read as well as it goes: {errors[0].message.strip()}{more}",
            )


def _parser(stream: Any, **options: Any) -> Any:
    return etree.iterparse(
        stream,
        recover=True,
        resolve_entities=False,
        no_network=True,
        huge_tree=True,
        **options,
    )


def _check_root(path: Path) -> None:
    """SourceError unless the file starts as a WXR file does: <rss> with the wp: namespace.

    Reads only the beginning of the file, so a wrong ``--format`` fails at once.
    """
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    with path.open("rb") as stream:
        try:
            _event, root = next(iter(_parser(stream, events=("start",))))
        except StopIteration:
            raise SourceError(f"{path}: not a WordPress export (no XML in it)") from None
        except etree.XMLSyntaxError as exc:
            raise SourceError(f"{path}: not a WordPress export (not XML: {exc})") from exc
    if root.tag != "rss":
        raise SourceError(f"{path}: not a WordPress export (<{_local(root)}>, not <rss>)")
    if not any((uri or "").startswith(WXR_NAMESPACE) for uri in (root.nsmap or {}).values()):
        raise SourceError(f"{path}: an RSS feed, not a WordPress export (no wp: namespace)")


def _local(element: Any) -> str:
    tag = element.tag
    if not isinstance(tag, str):  # comments, processing instructions
        return ""
    return tag.rpartition("}")[2]


def _fields(element: Any) -> dict[str, str]:
    """The element's simple children by local name (text stripped; the first one wins)."""
    fields: dict[str, str] = {}
    for child in element:
        name = _local(child)
        if name and name not in fields and len(child) == 0:
            fields[name] = (child.text or "").strip()
    return fields


def _content(element: Any) -> str:
    """``content:encoded`` — the post's body, as stored."""
    for child in element:
        if child.tag == CONTENT_ENCODED:
            return child.text or ""
    return ""


# --- items -------------------------------------------------------------------------------


def _item(item: Any) -> Iterator[Record]:
    fields = _fields(item)
    comments = [child for child in item if _local(child) == "comment"]
    link = fields.get("link") or fields.get("guid", "")
    thread_id = fields.get("post_id") or _link_id(link)
    where = f"post {thread_id or fields.get('title', '?')!r}"
    if fields.get("status") == "trash":
        if comments:
            yield Skipped("thread", thread_id or where, "trash")
        for comment in comments:
            comment_id = _fields(comment).get("comment_id", "")
            yield Skipped("comment", f"{thread_id}/{comment_id}", "trash")
        return
    closed = fields.get("comment_status") == "closed"
    publishable = fields.get("post_type", "post") in _CONTENT_TYPES and (
        fields.get("status", "publish") == "publish"
    )
    if not comments and not (closed and publishable):
        return
    if not link or not thread_id:
        yield Problem(where, "the item has no link; its comments are not imported")
        return
    yield SourceThread(
        source_id=thread_id,
        url=link,
        title=html.unescape(fields.get("title", "")),
        is_open=not closed,
        created=_datetime(fields.get("post_date_gmt")) or _datetime(fields.get("post_date")),
    )
    if not comments:
        return
    parsed = [_CommentData.from_element(element) for element in comments]
    feedback = Feedback(_content(item), [c.meta.get(META_FEEDBACK_FORM, "") for c in parsed])
    for comment in parsed:
        yield from comment.records(thread_id, feedback)


def _link_id(link: str) -> str:
    """A post's id when the export has no wp:post_id: its link, or a digest of a long one
    (source ids are at most 255 characters, and a comment's adds its own)."""
    if len(link) <= 200:
        return link
    return "link-sha256:" + hashlib.sha256(link.encode()).hexdigest()


@dataclass
class _CommentData:
    fields: dict[str, str]
    meta: dict[str, str]
    content: str

    @classmethod
    def from_element(cls, element: Any) -> _CommentData:
        fields: dict[str, str] = {}
        meta: dict[str, str] = {}
        content = ""
        for child in element:
            name = _local(child)
            if name == "commentmeta":
                pair = _fields(child)
                if pair.get("meta_key"):
                    meta.setdefault(pair["meta_key"], pair.get("meta_value", ""))
            elif name == "comment_content":
                content = child.text or ""
            elif name and name not in fields:
                fields[name] = (child.text or "").strip()
        return cls(fields, meta, content)

    def records(self, thread_id: str, feedback: Feedback) -> Iterator[Record]:
        fields = self.fields
        comment_id = fields.get("comment_id", "")
        source_id = f"{thread_id}/{comment_id}"
        where = f"comment {source_id}"
        if not comment_id:
            yield Problem(f"post {thread_id!r}", "a comment without wp:comment_id")
            return
        kind = fields.get("comment_type", "")
        approved = fields.get("comment_approved", "1")
        if approved in _SKIPPED:
            yield Skipped("comment", source_id, _SKIPPED[approved])
            return
        if kind in _PINGBACKS:
            yield Skipped("comment", source_id, "pingback")
            return
        if kind not in _COMMENT_TYPES:
            yield Skipped("comment", source_id, "not-a-comment")
            return
        status = _APPROVED.get(approved)
        if status is None:
            yield Problem(where, f"unknown wp:comment_approved {approved!r}; not imported")
            return
        created = _datetime(fields.get("comment_date_gmt")) or _datetime(fields.get("comment_date"))
        if created is None:
            yield Problem(where, "the comment has no date; not imported")
            return
        parent = fields.get("comment_parent", "0")
        parent_id = f"{thread_id}/{parent}" if parent not in ("", "0") else None
        user = fields.get("comment_user_id", "0")
        upvotes, downvotes, problem = votes(self.meta)
        if problem:
            yield Problem(where, problem)
        passage = None
        form = self.meta.get(META_FEEDBACK_FORM, "")
        if form and form != "0":
            # Townhall keeps passages on top-level comments only; a reply follows its thread.
            passage, problem = feedback.passage(form)
            if problem:
                yield Problem(where, problem)
            if parent_id is not None:
                passage = None
        url = fields.get("comment_author_url", "")
        yield SourceComment(
            source_id=source_id,
            thread_id=thread_id,
            parent_id=parent_id,
            author=SourceAuthor(
                name=html.unescape(fields.get("comment_author", "")).strip() or ANONYMOUS,
                email=fields.get("comment_author_email", ""),
                key=f"wp-user:{user}" if user not in ("", "0") else "",
            ),
            created=created,
            html=autop(self.content),
            status=status,
            upvotes=upvotes,
            downvotes=downvotes,
            passage=passage,
            extra={"website": url} if url else {},
        )


def _datetime(value: str | None) -> datetime | None:
    """A WXR date ("2014-01-14 17:31:03"), as UTC; None for missing or zero dates."""
    if not value or value.startswith("0000-00-00"):
        return None
    try:
        return datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None
