"""What every importer reads a source into: one stream of records, in the file's order.

A reader (``townhall.migration.sources.<format>.read``) turns an export file into records; the
engine (``townhall.migration.engine.run_import``) writes them. Readers know their format and
nothing of the database; the engine knows the database and nothing of any format.

The stream's rules:

- A ``SourceThread`` comes before the comments that name it (``SourceComment.thread_id``). A
  comment whose thread never came is a ``Problem`` for the engine (skipped, reported).
- A comment's parent may come before or after it. A ``parent_id`` that names no comment of the
  file (or one the file excluded) is a broken reference: the comment is attached at the top
  level and reported.
- Items the source marks deleted, spam or trashed are not comments: the reader yields a
  ``Skipped`` for each (counted in the summary, never written).
- ``source_id`` values are the source's own ids, unique per kind within one source format of
  one site; they are what makes importing the same file again create nothing new.
- Times are aware datetimes (UTC when the source says nothing).
- Text: ``html`` for sources that store HTML (Disqus, WordPress), ``markdown`` for those that
  store what the reader typed (Isso, Commento, Townhall's own export). Either way the engine
  renders it exactly as a new comment is rendered (markdown-it, then nh3).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

# The formats ``townhall import --format`` takes, and each reader's module under sources/.
FORMATS = ("disqus", "wordpress", "isso", "commento", "townhall")


@dataclass(frozen=True, slots=True)
class SourceThread:
    source_id: str
    # An absolute http(s) URL, or a path ("/2014/test/") that the engine resolves against the
    # import's base URL (``--base-url``, else the site's first allowed origin).
    url: str
    title: str = ""
    is_open: bool = True
    created: datetime | None = None
    # Other (format, source_id) names of the same thread, remembered too (Townhall's own export
    # carries what a thread was imported from, so importing that source again still finds it).
    aliases: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class SourceAuthor:
    name: str
    email: str = ""
    # The person's stable id in the source (Disqus username, WordPress user id, Commento
    # commenterHex, Townhall commenter id); "" for an anonymous guest. Comments with the same
    # key (else the same name and email) get one Townhall commenter.
    key: str = ""
    avatar_url: str = ""
    # Townhall's own export only: the commenter as it was.
    kind: str = "guest"  # identity.models.CommenterKind
    external_id: str = ""  # the SSO subject
    email_confirmed: datetime | None = None
    # When the commenter was created (Townhall's own export); the import's time when None.
    created: datetime | None = None


@dataclass(frozen=True, slots=True)
class SourceVote:
    voter_key: str
    value: int  # +1 or -1
    created: datetime | None = None


@dataclass(frozen=True, slots=True)
class SourceComment:
    source_id: str
    thread_id: str
    parent_id: str | None
    author: SourceAuthor
    created: datetime
    html: str | None = None
    markdown: str | None = None
    # Foreign sources: "visible" or "pending". Townhall's own export: any CommentStatus.
    status: str = "visible"
    upvotes: int = 0
    downvotes: int = 0
    # A Townhall passage (comment.passage): {"quote": {"type": "TextQuoteSelector", "exact",
    # "prefix", "suffix"}, "position": {"type": "TextPositionSelector", "start", "end"}} and
    # optionally "question"; see discussions/anchoring.py.
    passage: dict[str, Any] | None = None
    edited: datetime | None = None
    # Townhall's own export only.
    featured: bool = False
    votes: tuple[SourceVote, ...] = ()
    aliases: tuple[tuple[str, str], ...] = ()  # as SourceThread.aliases
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Skipped:
    kind: str  # "comment" or "thread"
    source_id: str
    reason: str  # "deleted", "spam" or "trash"


@dataclass(frozen=True, slots=True)
class Problem:
    """Something in the file that could not be imported as it is; the import goes on."""

    where: str  # "line 120", "post dsq:id=x299986073", "comment 7d77e3…"
    message: str


class SourceError(Exception):
    """The file cannot be read as this format at all (not found, not XML, not an Isso
    database, …): nothing is imported. The message says what is wrong, for the command line."""


Record = SourceThread | SourceComment | Skipped | Problem


class CountingReader(io.RawIOBase):
    """A binary file that reports how many bytes were read from it (for the progress bar)."""

    def __init__(self, raw: BinaryIO, on_bytes: Callable[[int], None] | None) -> None:
        self.raw = raw
        self.on_bytes = on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        if self.on_bytes is not None and data:
            self.on_bytes(len(data))
        return len(data)

    def close(self) -> None:
        self.raw.close()
        super().close()


def open_counted(path: Path, on_bytes: Callable[[int], None] | None = None) -> BinaryIO:
    """``path`` opened for reading in binary, reporting its progress to ``on_bytes``."""
    return io.BufferedReader(CountingReader(path.open("rb"), on_bytes), buffer_size=1 << 16)  # type: ignore[return-value]


# Every reader module has this function:
Reader = Callable[..., Iterator[Record]]
# def read(path: Path, *, on_bytes: Callable[[int], None] | None = None) -> Iterator[Record]
