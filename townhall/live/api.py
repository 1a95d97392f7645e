"""The event stream's place in the OpenAPI document.

``townhall serve`` answers ``GET /api/v1/threads/{id}/events`` in its ASGI layer
(``live.streams``), before Django. This route documents it, and answers in its stead where
Django is reached without that layer (a plain WSGI server): with a clear error, not a stream
that would hold one of Django's threads for as long as a reader reads.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from townhall.core.errors import TownhallError
from townhall.discussions.schemas import ErrorOut

router = Router(tags=["live"])

EVENTS_OPENAPI = {
    "parameters": [
        {
            "name": "last_event_id",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 0},
            "description": (
                "The thread page's `live_event_id`: every event after it is sent. The "
                "`Last-Event-ID` header (sent by EventSource when it reconnects) takes its place."
            ),
        }
    ],
    "responses": {
        200: {
            "description": (
                "`text/event-stream`: events `comment`, `edit`, `remove`, `vote`, `reset` "
                "(see docs/api.md, Live events), a keep-alive comment line every 15 s."
            ),
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    },
}


class LiveUnavailable(TownhallError):
    status = 503
    code = "live_unavailable"


@router.get(
    "/threads/{thread_id}/events",
    response={404: ErrorOut, 422: ErrorOut, 503: ErrorOut},
    openapi_extra=EVENTS_OPENAPI,
)
def thread_events(request: HttpRequest, thread_id: int):
    """A thread's live events as server-sent events, resumable by `Last-Event-ID`.

    Served by `townhall serve`; `404 thread_not_found` for an unknown thread, `503
    too_many_streams` past `TOWNHALL_LIVE_MAX_STREAMS` open streams in one process.
    """
    raise LiveUnavailable(
        "Live events are served by `townhall serve` (its ASGI layer), not by this server.",
    )
