"""Townhall's own export (docs/export-format.md, written by ``migration.export``).

JSON Lines, plain or gzip-compressed (told by the magic bytes, not the name), read one line at a
time. The header must name the format and a version this reader knows, else nothing is read
(SourceError). Each other line is checked on its own: a bad one is a Problem ("line N: …") and
the lines after it are still read.

Commenter lines come before the comments that name them; the reader keeps each commenter (a few
short strings) to hand to its comments, so memory grows with the commenters, not the comments.
Every status, the votes and the provenance are carried as they were; ``html`` is not read: the
engine renders ``body`` as it renders every new comment. What ``records`` has no field for goes
in ``SourceComment.extra`` (``_extra``).
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, BinaryIO, Literal

import orjson
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

from townhall.discussions.models import CommentStatus
from townhall.identity.models import CommenterKind
from townhall.migration.export import FORMAT, VERSION
from townhall.migration.records import (
    Problem,
    Record,
    SourceAuthor,
    SourceComment,
    SourceError,
    SourceThread,
    SourceVote,
    open_counted,
)

GZIP_MAGIC = b"\x1f\x8b"

Id = Annotated[str, StringConstraints(min_length=1, max_length=255)]
# ``[format, source id]``: what a row was imported from before it was exported.
Provenance = list[tuple[Annotated[str, StringConstraints(min_length=1, max_length=16)], Id]]


class _Line(BaseModel):
    # Keys a later version 1 adds are ignored; "1" is not a number nor "yes" a boolean.
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)


class ThreadLine(_Line):
    type: Literal["thread"]
    id: Id
    url: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    title: str = ""
    is_open: bool = True
    created: AwareDatetime | None = None
    imported_from: Provenance = []


class CommenterLine(_Line):
    type: Literal["commenter"]
    id: Id
    kind: Literal[CommenterKind.GUEST, CommenterKind.EMAIL, CommenterKind.SSO]
    name: str
    email: str = ""
    email_confirmed: AwareDatetime | None = None
    avatar: str = ""
    external_id: str = ""
    created: AwareDatetime | None = None
    imported_from: Provenance = []


class VoteLine(_Line):
    voter_key: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    value: Literal[1, -1]
    created: AwareDatetime | None = None


class CommentLine(_Line):
    type: Literal["comment"]
    id: Id
    thread: Id
    parent: Id | None = None
    author: Id | None = None
    author_name: str = ""
    body: str
    status: Literal[
        CommentStatus.VISIBLE,
        CommentStatus.PENDING,
        CommentStatus.REJECTED,
        CommentStatus.SPAM,
        CommentStatus.DELETED,
    ]
    upvotes: NonNegativeInt = 0
    downvotes: NonNegativeInt = 0
    passage: dict[str, Any] | None = None
    featured: bool = False
    created: AwareDatetime
    edited: AwareDatetime | None = None
    votes: list[VoteLine] = []
    imported_from: Provenance = []


_LINE: TypeAdapter[ThreadLine | CommenterLine | CommentLine] = TypeAdapter(
    Annotated[ThreadLine | CommenterLine | CommentLine, Field(discriminator="type")]
)


def read(path: Path, *, on_bytes: Callable[[int], None] | None = None) -> Iterator[Record]:
    try:
        counted = open_counted(path, on_bytes)
    except OSError as error:
        raise SourceError(f"Cannot read {path}: {error.strerror or error}.") from None
    with counted:
        stream: BinaryIO = counted
        if counted.peek(2)[:2] == GZIP_MAGIC:  # type: ignore[attr-defined]
            stream = gzip.GzipFile(fileobj=counted, mode="rb")  # type: ignore[assignment]
        try:
            yield from _records(path, stream)
        except (gzip.BadGzipFile, EOFError, zlib.error) as error:
            raise SourceError(f"{path} is a damaged gzip file: {error}") from None


def _records(path: Path, stream: BinaryIO) -> Iterator[Record]:
    _check_header(path, stream.readline())
    authors: dict[str, SourceAuthor] = {}
    for number, raw in enumerate(stream, start=2):
        if not raw.strip():
            continue
        where = f"line {number}"
        try:
            item = _LINE.validate_json(raw)
        except ValidationError as error:
            yield Problem(where, _explain(error))
            continue
        if isinstance(item, ThreadLine):
            yield SourceThread(
                source_id=item.id,
                url=item.url,
                title=item.title,
                is_open=item.is_open,
                created=item.created,
                aliases=tuple(item.imported_from),
            )
        elif isinstance(item, CommenterLine):
            if item.id in authors:
                yield Problem(where, f"commenter {item.id!r} was already given; kept the first")
                continue
            authors[item.id] = SourceAuthor(
                name=item.name,
                email=item.email,
                key=item.id,
                avatar_url=item.avatar,
                kind=item.kind,
                external_id=item.external_id,
                email_confirmed=item.email_confirmed,
                created=item.created,
            )
        else:
            author = authors.get(item.author) if item.author is not None else None
            if item.author is not None and author is None:
                yield Problem(
                    where,
                    f"comment {item.id!r}: its author {item.author!r} is no commenter of the "
                    "file; imported as an anonymous guest",
                )
            yield SourceComment(
                source_id=item.id,
                thread_id=item.thread,
                parent_id=item.parent,
                author=author or SourceAuthor(name=item.author_name),
                created=item.created,
                markdown=item.body,
                status=item.status,
                upvotes=item.upvotes,
                downvotes=item.downvotes,
                passage=item.passage,
                edited=item.edited,
                featured=item.featured,
                votes=tuple(
                    SourceVote(voter_key=vote.voter_key, value=vote.value, created=vote.created)
                    for vote in item.votes
                ),
                aliases=tuple(item.imported_from),
                extra=_extra(item, authors),
            )


def _extra(item: CommentLine, authors: dict[str, SourceAuthor]) -> dict[str, Any]:
    """What the record types have no field for: the name shown on the comment (its author's may
    have changed since, and a deleted placeholder shows none), and the commenters its
    ``c:<id>`` voter keys name (who may never have commented)."""
    voters = {}
    for vote in item.votes:
        key = vote.voter_key.removeprefix("c:")
        if vote.voter_key.startswith("c:") and key in authors:
            voters[vote.voter_key] = authors[key]
    return {"author_name": item.author_name, "voters": voters}


def _check_header(path: Path, first: bytes) -> None:
    try:
        header = orjson.loads(first)
    except orjson.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise SourceError(
            f"{path} is not a Townhall export: its first line is not a "
            f'{{"format": "{FORMAT}", …}} header (`townhall export` writes one).'
        )
    version = header.get("version")
    if version != VERSION or isinstance(version, bool):
        raise SourceError(
            f"{path} is a Townhall export of version {version!r}; this Townhall "
            f"reads version {VERSION}. Import it with the Townhall release that wrote it, or a "
            "later one."
        )


def _explain(error: ValidationError) -> str:
    problems = []
    for detail in error.errors(include_url=False)[:3]:
        where = ".".join(str(part) for part in detail["loc"])
        problems.append(f"{where}: {detail['msg']}" if where else detail["msg"])
    return "; ".join(problems)
