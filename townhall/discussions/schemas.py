from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Field, Schema
from pydantic import StrictInt, model_validator

from townhall.discussions.models import CommentStatus
from townhall.discussions.pages import (
    DEFAULT_LIMIT,
    DEFAULT_REPLIES_LIMIT,
    MAX_LIMIT,
    MAX_PASSAGES,
    MAX_REPLIES_LIMIT,
    MAX_REPLIES_PER_ROOT,
    REPLIES_PER_ROOT,
)

# A ceiling just under the request size limit (64 KiB); each site's own, lower limit is checked
# by the actions with its own error code, so readers learn the site's actual limit.
BODY_CEILING = 60_000


class TextQuoteSelector(Schema):
    type: Literal["TextQuoteSelector"] = "TextQuoteSelector"
    exact: str = Field(..., min_length=1, max_length=2000, description="The passage's text.")
    prefix: str = Field("", max_length=32, description="Up to 32 characters before it.")
    suffix: str = Field("", max_length=32, description="Up to 32 characters after it.")


class TextPositionSelector(Schema):
    type: Literal["TextPositionSelector"] = "TextPositionSelector"
    start: int = Field(..., ge=0, le=10_000_000)
    end: int = Field(..., ge=1, le=10_000_000)

    @model_validator(mode="after")
    def _ordered(self) -> TextPositionSelector:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class Passage(Schema):
    """Where in the article a top-level comment points: W3C Web Annotation selectors over the
    article's text, and the publisher's passage id for author-marked passages."""

    id: str | None = Field(
        None,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="data-townhall-passage of an author-marked passage.",
    )
    quote: TextQuoteSelector
    position: TextPositionSelector


class ThreadQuery(Schema):
    """The query parameters of a thread page (JSON or HTML)."""

    site: str = Field(..., description="The site's slug.")
    url: str = Field(..., description="The article's URL.")
    sort: Literal["newest", "oldest", "most_voted"] = "newest"
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Top-level comments.")
    cursor: str | None = Field(None, description="`next_cursor` of the previous page.")
    only: Literal["passages"] | None = Field(
        None, description="`passages`: only comments on a passage (the Inline Feedbacks view)."
    )
    replies: int = Field(
        REPLIES_PER_ROOT,
        ge=0,
        le=MAX_REPLIES_PER_ROOT,
        description=(
            "Visible replies shown under each top-level comment (oldest first); the rest are "
            "counted in its `more_replies`."
        ),
    )

    def page(self) -> dict:
        return {
            "sort": self.sort,
            "limit": self.limit,
            "cursor": self.cursor,
            "only": self.only,
            "replies": self.replies,
        }


class RepliesQuery(Schema):
    cursor: str | None = Field(
        None,
        description="The top-level comment's `replies_cursor`, or the last `next_cursor`.",
    )
    limit: int = Field(
        DEFAULT_REPLIES_LIMIT, ge=1, le=MAX_REPLIES_LIMIT, description="Visible replies."
    )


class PassagesQuery(Schema):
    site: str = Field(..., description="The site's slug.")
    url: str = Field(..., description="The article's URL.")


class CommentIn(Schema):
    site: str = Field(..., min_length=1, max_length=64, description="The site's slug.")
    url: str = Field(..., min_length=1, max_length=2048, description="The article's URL.")
    title: str = Field(
        "", max_length=2000, description="The article's title, kept on first use (300 characters)."
    )
    parent_id: int | None = Field(None, description="The comment this one replies to.")
    body: str = Field(..., max_length=BODY_CEILING, description="Markdown.")
    author_name: str | None = Field(None, description="Shown with the comment; 80 characters.")
    author_email: str | None = Field(None, max_length=254, description="Never shown to anyone.")
    passage: Passage | None = Field(
        None, description="For a comment on a passage of the article (top-level only)."
    )
    notify_replies: bool = Field(
        False, description="Email the author about replies to this comment (needs author_email)."
    )


class PreviewIn(Schema):
    site: str = Field(..., min_length=1, max_length=64)
    body: str = Field(..., max_length=BODY_CEILING, description="Markdown.")


class PreviewOut(Schema):
    html: str = Field(..., description="What the comment would show: sanitized HTML.")


class CommentEditIn(Schema):
    body: str = Field(..., max_length=BODY_CEILING, description="Markdown.")


class VoteIn(Schema):
    value: StrictInt = Field(..., ge=-1, le=1, description="1 up, -1 down, 0 withdraws the vote.")


class CommentOut(Schema):
    id: int
    parent_id: int | None
    depth: int
    author_name: str | None = Field(..., description="null for a deleted or removed comment.")
    html: str = Field(..., description="Sanitized HTML rendered from the Markdown body.")
    status: CommentStatus
    created: datetime
    edited: datetime | None
    upvotes: int
    downvotes: int
    score: int
    featured: bool = Field(False, description="An editor's pick.")
    supporter: bool = Field(
        False,
        description=(
            "The author gave to one of the site's campaigns and asked for the supporter badge "
            "(on thread pages, present only when true)."
        ),
    )
    passage: Passage | None = None
    replies: list[CommentOut] = Field(
        default_factory=list,
        description=(
            "Replies, oldest first, nested to the site's max depth. On a thread page, a "
            "top-level comment carries its first visible replies (`replies`, "
            f"{REPLIES_PER_ROOT} by default), with the deleted or removed comments above them "
            "as placeholders."
        ),
    )
    more_replies: int = Field(
        0,
        description=(
            "Top-level comments on a thread page: visible replies not on the page; get them "
            "from `/comments/{id}/replies?cursor=` with `replies_cursor`."
        ),
    )
    replies_cursor: str | None = Field(
        None,
        description=(
            "Where the replies left out of a thread page start (with `more_replies`); null "
            "when the page shows none of them (then they start with the first)."
        ),
    )


class SignInOut(Schema):
    guest: bool = Field(..., description="Readers may comment as guests.")
    email: bool = Field(..., description="Readers may sign in by an emailed link.")
    sso: bool = Field(..., description="Readers may sign in through the publisher's login.")
    guest_requires: list[Literal["name", "email"]] = Field(
        ..., description="What a guest must give."
    )
    deletion: Literal["placeholder", "anonymize"] = Field(
        ..., description="What a reader's deletion does to their comments."
    )


class ThreadOut(Schema):
    id: int | None = Field(..., description="null while the article has no comments yet.")
    url: str
    title: str
    comment_count: int = Field(..., description="Visible comments, replies included.")
    is_open: bool
    live_event_id: int = Field(
        0,
        description=(
            "The thread's latest live event when this page was built: open "
            "`/threads/{id}/events?last_event_id=` with it to hear of every change since."
        ),
    )
    signin: SignInOut | None = Field(None, description="How readers may comment on this site.")


class ThreadPageOut(Schema):
    thread: ThreadOut
    comments: list[CommentOut] = Field(..., description="A page of top-level comments.")
    next_cursor: str | None = Field(..., description="Pass as ?cursor= for the next page.")


class RepliesPageOut(Schema):
    root_id: int = Field(..., description="The top-level comment these replies are under.")
    comments: list[CommentOut] = Field(
        ...,
        description=(
            "Replies in the order they were written, flat (`replies` is empty): each goes under "
            "the comment `parent_id` names, or beside it when its `depth` is the same (past the "
            "site's max depth). Deleted or removed comments above them come as placeholders, "
            "even when they were written before the cursor; skip those already shown."
        ),
    )
    more_replies: int = Field(..., description="Visible replies after these.")
    next_cursor: str | None = Field(..., description="Pass as ?cursor= for the next ones.")


class PassageCommentOut(Schema):
    id: int
    author_name: str
    html: str = Field(..., description="Sanitized HTML rendered from the Markdown body.")
    created: datetime
    score: int
    passage: Passage


class ThreadPassagesOut(Schema):
    thread_id: int | None
    passages: list[PassageCommentOut] = Field(
        ...,
        description=(
            f"The thread's visible comments on passages, newest first (at most "
            f"{MAX_PASSAGES}): what the widget highlights and counts in the article."
        ),
    )


class PostedCommentOut(Schema):
    comment: CommentOut
    edit_token: str = Field(
        ...,
        description=(
            "Keep it: sent as 'Authorization: Bearer <token>' it edits or deletes this "
            "commenter's comments within the edit window, and posts again as the same commenter."
        ),
    )
    editable_until: datetime


class VoteOut(Schema):
    id: int
    upvotes: int
    downvotes: int
    score: int
    your_vote: Literal[1, -1, 0]


class CountsOut(Schema):
    counts: dict[str, int] = Field(..., description="Visible comments per URL, as given.")


class ErrorDetail(Schema):
    code: str = Field(..., description="Stable, machine-readable.")
    message: str
    field: str | None = None
    fields: list[dict] | None = None


class ErrorOut(Schema):
    error: ErrorDetail
