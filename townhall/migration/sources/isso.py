"""Isso: its SQLite database (the ``dbpath`` of its config), as Isso 0.14 writes it.

Two tables matter: ``threads(id, uri, title)`` and ``comments(tid, id, parent, created,
modified, mode, remote_addr, text, author, email, website, likes, dislikes, voters,
notification)``. ``created``/``modified`` are Unix times (REAL); ``text`` is what the reader
typed (Markdown), while ``author``, ``email`` and ``website`` are stored HTML-escaped;
``mode`` is 1 (visible), 2 (pending) or 4 (deleted: Isso keeps a deleted comment that has
replies as an empty placeholder). Comment ids are global to the database.
A thread's ``uri`` is the article's path, resolved by the engine against the base URL.

The database is opened read-only and read row by row, so memory does not grow with its size.
"""

from __future__ import annotations

import html
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from townhall.migration.records import (
    Problem,
    Record,
    Skipped,
    SourceAuthor,
    SourceComment,
    SourceError,
    SourceThread,
)

MODE_VISIBLE = 1
MODE_PENDING = 2
MODE_DELETED = 4
_STATUS = {MODE_VISIBLE: "visible", MODE_PENDING: "pending"}
ANONYMOUS = "Anonymous"

_COMMENT_COLUMNS = (
    "tid",
    "id",
    "parent",
    "created",
    "modified",
    "mode",
    "text",
    "author",
    "email",
    "website",
    "likes",
    "dislikes",
)


def read(path: Path, *, on_bytes: Callable[[int], None] | None = None) -> Iterator[Record]:
    """The threads of an Isso database, then its comments in id order.

    Raises ``SourceError`` before yielding anything when ``path`` is not an Isso database.
    ``on_bytes`` hears of the file's size in shares as comments are read (SQLite reads pages,
    not a stream: the share of rows read stands for the share of bytes); they add up to the
    size.
    """
    db = _connect(path)
    try:
        _check_schema(db, path)
        progress = _Progress(path.stat().st_size, db, on_bytes)
        yield from _threads(db)
        yield from _comments(db, progress)
        progress.done()
    finally:
        db.close()


class _Progress:
    EVERY = 1000  # rows

    def __init__(
        self, size: int, db: sqlite3.Connection, on_bytes: Callable[[int], None] | None
    ) -> None:
        self.size = size
        self.on_bytes = on_bytes
        self.reported = 0
        self.rows = 0
        self.total = db.execute("SELECT count(*) FROM comments").fetchone()[0] if on_bytes else 0

    def row(self) -> None:
        self.rows += 1
        if self.on_bytes is not None and self.rows % self.EVERY == 0 and self.total:
            self._report(min(self.size, self.size * self.rows // self.total))

    def done(self) -> None:
        if self.on_bytes is not None:
            self._report(self.size)

    def _report(self, upto: int) -> None:
        if upto > self.reported and self.on_bytes is not None:
            self.on_bytes(upto - self.reported)
            self.reported = upto


def _connect(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    try:
        db = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise SourceError(f"{path}: cannot open it as an SQLite database ({exc})") from exc
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        db.close()
        raise SourceError(f"{path}: not an SQLite database ({exc})") from exc
    return db


def _check_schema(db: sqlite3.Connection, path: Path) -> None:
    columns: dict[str, set[str]] = {}
    for table in ("threads", "comments"):
        rows = db.execute(f"PRAGMA table_info({table})").fetchall()
        columns[table] = {row[1] for row in rows}
    missing = [
        f"{table}.{column}"
        for table, needed in (("threads", ("id", "uri", "title")), ("comments", _COMMENT_COLUMNS))
        for column in needed
        if column not in columns[table]
    ]
    if missing:
        raise SourceError(
            f"{path}: not an Isso database (missing {', '.join(missing)}); give the file named "
            "by dbpath in Isso's config"
        )


def _threads(db: sqlite3.Connection) -> Iterator[Record]:
    for thread_id, uri, title in db.execute("SELECT id, uri, title FROM threads ORDER BY id"):
        if not uri:
            yield Problem(f"thread {thread_id}", "the thread has no URI")
            continue
        yield SourceThread(source_id=str(thread_id), url=uri, title=title or "")


def _comments(db: sqlite3.Connection, progress: _Progress) -> Iterator[Record]:
    columns = ", ".join(_COMMENT_COLUMNS)  # constants, not input
    cursor = db.execute(f"SELECT {columns} FROM comments ORDER BY id")  # noqa: S608
    for tid, comment_id, parent, created, modified, mode, text, *rest in cursor:
        author, email, website, likes, dislikes = rest
        progress.row()
        source_id = str(comment_id)
        if mode == MODE_DELETED:
            yield Skipped("comment", source_id, "deleted")
            continue
        status = _STATUS.get(mode)
        if status is None:
            yield Problem(f"comment {comment_id}", f"unknown mode {mode!r}; not imported")
            continue
        when = _timestamp(created)
        if when is None:
            yield Problem(f"comment {comment_id}", f"unreadable creation time {created!r}")
            continue
        yield SourceComment(
            source_id=source_id,
            thread_id=str(tid),
            parent_id=str(parent) if parent is not None else None,
            author=SourceAuthor(name=_unescape(author) or ANONYMOUS, email=_unescape(email)),
            created=when,
            markdown=text or "",
            status=status,
            upvotes=max(int(likes or 0), 0),
            downvotes=max(int(dislikes or 0), 0),
            edited=_timestamp(modified),
            extra={"website": _unescape(website)} if website else {},
        )


def _unescape(value: str | None) -> str:
    """Isso stores author, email and website HTML-escaped (``&amp;``); the reader typed ``&``."""
    return html.unescape(value or "").strip()


def _timestamp(value: object) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(float(value), tz=UTC)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError, OSError):
        return None
