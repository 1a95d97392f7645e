"""Disqus XML exports (Admin → Moderation → Export): ``<disqus>`` with ``<category>``,
``<thread>`` and ``<post>`` elements, ids in ``dsq:id`` attributes.

Read with lxml's ``iterparse`` in recover mode, each top-level element dropped once read, so a
file of millions of posts streams in flat memory. Real exports are not always well formed:
bytes before ``<?xml`` are skipped, a broken tag is recovered as far as libxml2 can, and a post
that still makes no sense (no id, no thread, a bad date) becomes a ``Problem``. Elements are
matched by local name, whatever namespace prefix the file uses.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
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
from townhall.migration.sources._util import SkipToMarkup, parse_time

_ROOT = re.compile(rb"<(?:[\w.-]+:)?disqus[\s>/]")


def read(path: Path, *, on_bytes: Callable[[int], None] | None = None) -> Iterator[Record]:
    """The records of a Disqus export; SourceError when the file is not one."""
    try:
        raw = open_counted(Path(path), on_bytes)
    except OSError as error:
        raise SourceError(f"Cannot read {path}: {error.strerror or error}") from None
    source = SkipToMarkup(raw)
    try:
        if not _ROOT.search(source.head):
            raise SourceError(f"{path} is not a Disqus XML export (no <disqus> element).")
        yield from _records(source)
    finally:
        source.close()


def _records(source: SkipToMarkup) -> Iterator[Record]:
    deleted_threads: set[str] = set()
    events = etree.iterparse(
        source,
        events=("end",),
        tag=("{*}thread", "{*}post"),
        recover=True,
        resolve_entities=False,
        no_network=True,
        huge_tree=True,
        remove_comments=True,
    )
    try:
        for _, element in events:
            parent = element.getparent()
            if parent is None or parent.getparent() is not None:
                continue  # a post's <thread dsq:id>: read with its post
            if _local(element.tag) == "thread":
                yield _thread(element, deleted_threads)
            else:
                yield _post(element, deleted_threads)
            # Drop what was read: this element's content and every sibling before it.
            element.clear(keep_tail=True)
            while element.getprevious() is not None:
                del parent[0]
    except etree.XMLSyntaxError as error:
        # Only what recovery could not get past (an empty or truncated file).
        raise SourceError(f"Not readable as XML: {error}") from None


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _children(element: Any) -> dict[str, Any]:
    """The first child of each local name."""
    found: dict[str, Any] = {}
    for child in element:
        found.setdefault(_local(child.tag), child)
    return found


def _text(children: dict[str, Any], name: str) -> str:
    child = children.get(name)
    return (child.text or "").strip() if child is not None else ""


def _flag(children: dict[str, Any], name: str) -> bool:
    return _text(children, name).lower() == "true"


def _dsq_id(element: Any) -> str:
    if element is None:
        return ""
    for key, value in element.attrib.items():
        if _local(key) == "id":
            return str(value).strip()
    return ""


def _thread(element: Any, deleted_threads: set[str]) -> Record:
    children = _children(element)
    source_id = _dsq_id(element)
    if not source_id:
        return Problem(f"line {element.sourceline}", "A thread without a dsq:id is left out.")
    if _flag(children, "isDeleted"):
        deleted_threads.add(source_id)
        return Skipped("thread", source_id, "deleted")
    return SourceThread(
        source_id=source_id,
        url=_text(children, "link"),
        title=_text(children, "title"),
        is_open=not _flag(children, "isClosed"),
        created=parse_time(_text(children, "createdAt")),
    )


def _post(element: Any, deleted_threads: set[str]) -> Record:
    children = _children(element)
    source_id = _dsq_id(element)
    if not source_id and _text(children, "id"):
        source_id = "id:" + _text(children, "id")
    if not source_id:
        return Problem(f"line {element.sourceline}", "A post without dsq:id or id is left out.")
    where = f"post dsq:id={source_id}"
    thread_id = _dsq_id(children.get("thread"))
    if _flag(children, "isDeleted") or thread_id in deleted_threads:
        return Skipped("comment", source_id, "deleted")
    if _flag(children, "isSpam"):
        return Skipped("comment", source_id, "spam")
    created = parse_time(_text(children, "createdAt"))
    wrong = [] if created is not None else [f"bad date {_text(children, 'createdAt')!r}"]
    if not thread_id:
        wrong.append("no thread")
    if created is None or wrong:
        return Problem(where, f"Line {element.sourceline}: {', '.join(wrong)}; left out.")
    author = _children(children["author"]) if "author" in children else {}
    anonymous = _flag(author, "isAnonymous")
    approved = _text(children, "isApproved").lower() != "false"
    return SourceComment(
        source_id=source_id,
        thread_id=thread_id,
        parent_id=_dsq_id(children.get("parent")) or None,
        author=SourceAuthor(
            name=_text(author, "name"),
            email=_text(author, "email"),
            key="" if anonymous else _text(author, "username"),
        ),
        created=created,
        html=_text(children, "message"),
        status="visible" if approved else "pending",
    )
