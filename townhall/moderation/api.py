"""Readers' part in moderation: reporting a comment."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Status

from townhall.core.clients import client_fingerprint
from townhall.core.ratelimit import enforce_rate
from townhall.discussions.queries import access_comment
from townhall.discussions.schemas import ErrorOut
from townhall.identity.queries import access_commenter, bearer_token
from townhall.moderation import actions
from townhall.moderation.schemas import FlagIn, FlagOut
from townhall.sites.guards import check_write_origin

router = Router(tags=["moderation"])

FLAG_RATE = "10/m"
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut, 429: ErrorOut}


@router.post("/comments/{comment_id}/flag", response={202: FlagOut, **ERRORS})
def flag_comment(request: HttpRequest, comment_id: int, data: FlagIn):
    """Reports a visible comment to the site's moderators, once per reader (their token, else
    their address); a second report by the same reader changes nothing. Enough reports
    (the site's `flag_threshold`, 3 by default) take the comment out of the thread until a
    moderator decides. The answer is the same whatever happened, so it tells nothing about
    other readers' reports."""
    comment = access_comment(comment_id)
    site = comment.thread.site
    check_write_origin(request, site)
    fingerprint = client_fingerprint(request)
    enforce_rate(request, group=f"flag:{site.pk}", value=fingerprint, rate=FLAG_RATE)
    token = bearer_token(request.headers.get("Authorization"))
    reporter = f"c:{access_commenter(token, site_id=site.pk).pk}" if token else f"a:{fingerprint}"
    actions.do_flag_comment(comment, reporter_key=reporter, reason=data.reason, note=data.note)
    return Status(202, {"reported": True})
