"""The public discussion API: thin views, schema in → access → action → schema out."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from django.http import HttpRequest, HttpResponse
from django.utils.cache import get_conditional_response
from ninja import Header, Query, Router, Status

from townhall.core.clients import client_address, client_fingerprint
from townhall.core.errors import RateLimited
from townhall.core.ratelimit import enforce_rate
from townhall.discussions import actions, pages, queries
from townhall.discussions.hotpath import apply_thread_cache_headers
from townhall.discussions.html import thread_html
from townhall.discussions.schemas import (
    CommentEditIn,
    CommentIn,
    CommentOut,
    CountsOut,
    ErrorOut,
    PassagesQuery,
    PostedCommentOut,
    PreviewIn,
    PreviewOut,
    RepliesPageOut,
    RepliesQuery,
    ThreadPageOut,
    ThreadPassagesOut,
    ThreadQuery,
    VoteIn,
    VoteOut,
)
from townhall.identity.queries import access_commenter, bearer_token
from townhall.notifications.api import subscribe_from_request
from townhall.sites.guards import check_write_origin
from townhall.sites.queries import access_site

router = Router(tags=["discussions"])

PREVIEW_RATE = "30/m"
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut, 429: ErrorOut}


@router.get("/threads", response={200: ThreadPageOut, 304: None, **ERRORS})
def get_thread(request: HttpRequest, params: Query[ThreadQuery]) -> HttpResponse:
    """A page of an article's thread: top-level comments by `sort`, each with its replies.

    Send `If-None-Match` with the last `ETag` to get `304 Not Modified` while nothing changed.
    """
    page = pages.thread_page(access_site(params.site), params.url, **params.page())
    response = get_conditional_response(request, etag=page.etag) or HttpResponse(
        page.body, content_type="application/json"
    )
    response.headers["ETag"] = page.etag
    apply_thread_cache_headers(response)
    return response


THREAD_HTML_OPENAPI = {
    "responses": {
        200: {
            "description": "The thread as an HTML fragment (`text/html; charset=utf-8`).",
            "content": {"text/html": {"schema": {"type": "string"}}},
        }
    }
}


@router.get(
    "/threads/html",
    response={200: None, 304: None, **ERRORS},
    openapi_extra=THREAD_HTML_OPENAPI,
)
def get_thread_html(request: HttpRequest, params: Query[ThreadQuery]) -> HttpResponse:
    """The same page of a thread as `GET /threads`, as server-rendered HTML.

    A `<section class="townhall-thread">` fragment with schema.org microdata
    (`DiscussionForumPosting` with nested `Comment`s: author, dateCreated, text, upvoteCount,
    downvoteCount), for search engines and readers without JavaScript; the widget takes the
    markup over when it loads. Comment bodies are the sanitized HTML of the JSON API; all else
    is escaped. When there are more top-level comments, a `<a rel="next" href="?…">` link
    repeats these parameters with the next `cursor`.

    Parameters, validation and errors are those of `GET /threads` (errors are JSON). The
    `ETag` is the HTML's own; send it as `If-None-Match` to get `304 Not Modified`.
    """
    page = thread_html(access_site(params.site), params.url, **params.page())
    response = get_conditional_response(request, etag=page.etag) or HttpResponse(
        page.body, content_type="text/html; charset=utf-8"
    )
    response.headers["ETag"] = page.etag
    apply_thread_cache_headers(response)
    # A fragment to embed: opened directly, it may load and run nothing.
    response.headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
    return response


@router.get("/threads/passages", response={200: ThreadPassagesOut, 304: None, **ERRORS})
def get_thread_passages(request: HttpRequest, params: Query[PassagesQuery]) -> HttpResponse:
    """The thread's visible comments on passages of the article, with their selectors.

    The widget highlights and counts every one in the article, not only those on the pages of
    the thread it has loaded. Cached and revalidated like `GET /threads` (`ETag`, `304`).
    """
    page = pages.thread_passages(access_site(params.site), params.url)
    response = get_conditional_response(request, etag=page.etag) or HttpResponse(
        page.body, content_type="application/json"
    )
    response.headers["ETag"] = page.etag
    apply_thread_cache_headers(response)
    return response


@router.get("/comments/{comment_id}/replies", response={200: RepliesPageOut, 304: None, **ERRORS})
def get_replies(request: HttpRequest, comment_id: int, params: Query[RepliesQuery]) -> HttpResponse:
    """More replies to a top-level comment: those a thread page left out (`more_replies`),
    from its `replies_cursor`, or all of them from the first without a cursor.

    The id of a reply answers the replies of its top-level comment (`root_id`): how a link to
    a reply that a page left out is followed. Cached and revalidated like `GET /threads`
    (`ETag`, `304`).
    """
    page = pages.replies_page(comment_id, cursor=params.cursor, limit=params.limit)
    response = get_conditional_response(request, etag=page.etag) or HttpResponse(
        page.body, content_type="application/json"
    )
    response.headers["ETag"] = page.etag
    apply_thread_cache_headers(response)
    return response


# OpenAPI links: what a client (and the API fuzzer's stateful run) may do next with the comment
# it just posted. Its edit token goes as `Authorization: Bearer`, which links cannot express.
def _posted_comment_link(operation_id: str, description: str) -> dict[str, object]:
    return {
        "operationId": operation_id,
        "parameters": {"comment_id": "$response.body#/comment/id"},
        "description": description,
    }


POSTED_COMMENT_LINKS = {
    name: _posted_comment_link(operation_id, description)
    for name, operation_id, description in (
        (
            "GetReplies",
            "townhall_discussions_api_get_replies",
            "The replies under the comment (`root_id` is its top-level comment).",
        ),
        (
            "EditComment",
            "townhall_discussions_api_edit_comment",
            "Edit it with `Authorization: Bearer <edit_token>`.",
        ),
        (
            "DeleteComment",
            "townhall_discussions_api_delete_comment",
            "Delete it with `Authorization: Bearer <edit_token>`.",
        ),
        ("VoteComment", "townhall_discussions_api_vote_comment", "Vote on it."),
        (
            "FlagComment",
            "townhall_moderation_api_flag_comment",
            "Report it to the site's moderators.",
        ),
    )
}
POST_COMMENT_OPENAPI = {
    "responses": {
        201: {"links": POSTED_COMMENT_LINKS},
        202: {"links": POSTED_COMMENT_LINKS},
    }
}


@router.post(
    "/comments",
    response={201: PostedCommentOut, 202: PostedCommentOut, **ERRORS},
    openapi_extra=POST_COMMENT_OPENAPI,
)
def post_comment(
    request: HttpRequest,
    data: CommentIn,
    idempotency_key: str = Header(
        "",
        alias="Idempotency-Key",
        description=(
            "16 to 64 letters, digits, '-' or '_', new for each comment (random: it is what "
            "answers this comment's edit token again). A retry with the same key stores "
            "nothing and gets the comment posted first, as it is now; the same key with "
            "another text or parent is `422 idempotency_key_reused`."
        ),
    ),
):
    """Posts a comment. `201` when it is visible, `202` when it waits for moderation.

    Send an `Idempotency-Key` to retry safely: after a lost answer, or a `503` whose write
    reached the database after all, the retry answers the comment already stored."""
    site = access_site(data.site)
    check_write_origin(request, site)
    fingerprint = client_fingerprint(request)
    enforce_rate(
        request, group=f"post:{site.pk}", value=fingerprint, rate=site.post_rate_per_client
    )
    token = bearer_token(request.headers.get("Authorization"))
    commenter = access_commenter(token, site_id=site.pk) if token else None
    if commenter:
        enforce_rate(
            request,
            group=f"post-id:{site.pk}",
            value=str(commenter.pk),
            rate=site.post_rate_per_identity,
        )
    posted = actions.do_post_comment(
        site,
        url=data.url,
        title=data.title,
        body=data.body,
        parent_id=data.parent_id,
        author_name=data.author_name,
        author_email=data.author_email,
        commenter=commenter,
        client_fingerprint=fingerprint,
        passage=data.passage.model_dump() if data.passage else None,
        # Only for Akismet, only where the site asked for it; never stored.
        client_ip=client_address(request) if site.akismet_key else "",
        user_agent=request.headers.get("User-Agent", "")[:500] if site.akismet_key else "",
        idempotency_key=idempotency_key,
    )
    if data.notify_replies and posted.commenter.email and not posted.replayed:
        # A refused subscription (rate limit) leaves the comment standing.
        with contextlib.suppress(RateLimited):
            subscribe_from_request(
                request,
                site,
                email=posted.commenter.email,
                thread=posted.comment.thread,
                kind="comment",
                comment=posted.comment,
            )

    status = 201 if posted.comment.status == "visible" else 202
    return Status(status, _posted(posted.comment, posted.token, site.edit_window_seconds))


@router.post("/preview", response={200: PreviewOut, **ERRORS})
def preview_comment(request: HttpRequest, data: PreviewIn):
    """Renders Markdown exactly as a posted comment would be, without storing anything."""
    site = access_site(data.site)
    check_write_origin(request, site)
    enforce_rate(
        request, group=f"preview:{site.pk}", value=client_fingerprint(request), rate=PREVIEW_RATE
    )
    return {"html": actions.preview_comment_html(site, data.body)}


@router.patch("/comments/{comment_id}", response={200: CommentOut, **ERRORS})
def edit_comment(request: HttpRequest, comment_id: int, data: CommentEditIn):
    """Edits one's own comment within the site's edit window (`Authorization: Bearer`)."""
    comment = queries.access_own_comment(
        comment_id, bearer_token(request.headers.get("Authorization"))
    )
    check_write_origin(request, comment.thread.site)
    edited = actions.do_edit_comment(
        comment, body=data.body, client_fingerprint=client_fingerprint(request)
    )
    return pages.present_comment(edited)


@router.delete("/comments/{comment_id}", response={204: None, **ERRORS})
def delete_comment(request: HttpRequest, comment_id: int):
    """Deletes one's own comment within the edit window. Replies below it stay, under a
    "deleted" placeholder."""
    comment = queries.access_own_comment(
        comment_id, bearer_token(request.headers.get("Authorization"))
    )
    check_write_origin(request, comment.thread.site)
    actions.do_delete_comment(comment)
    return Status(204, None)


@router.post("/comments/{comment_id}/vote", response={200: VoteOut, **ERRORS})
def vote_comment(request: HttpRequest, comment_id: int, data: VoteIn):
    """Sets the reader's vote: one per reader (their token, else their address), changeable."""
    comment = queries.access_comment(comment_id)
    site = comment.thread.site
    check_write_origin(request, site)
    fingerprint = client_fingerprint(request)
    enforce_rate(
        request, group=f"vote:{site.pk}", value=fingerprint, rate=site.vote_rate_per_client
    )
    token = bearer_token(request.headers.get("Authorization"))
    voter_key = f"c:{access_commenter(token, site_id=site.pk).pk}" if token else f"a:{fingerprint}"
    voted = actions.do_vote_comment(comment, voter_key=voter_key, value=data.value)
    return {
        "id": voted.pk,
        "upvotes": voted.upvotes,
        "downvotes": voted.downvotes,
        "score": voted.score,
        "your_vote": data.value,
    }


@router.get("/counts", response={200: CountsOut, **ERRORS})
def get_counts(
    request: HttpRequest,
    site: str,
    url: list[str] = Query(..., max_length=queries.MAX_COUNT_URLS),
):
    """Visible comment counts for up to 100 article URLs (`?url=…&url=…`), for listing pages."""
    return {"counts": queries.thread_counts(access_site(site), url)}


def _posted(comment, token: str, edit_window_seconds: int) -> dict:
    return {
        "comment": pages.present_comment(comment),
        "edit_token": token,
        "editable_until": comment.created + timedelta(seconds=edit_window_seconds),
    }
