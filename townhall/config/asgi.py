"""The ASGI application ``townhall serve`` runs.

Three layers: the live event streams (``live.streams``) and the thread-read fast path
(``discussions.hotpath``), both answered on the event loop, and behind them Django as a WSGI
application in a pool of threads (a2wsgi). Django's own ASGI handler
hops between the event loop and a single worker thread for every middleware hook, which measured
at a fifth of the throughput of the same requests run through the WSGI handler this way
(docs/benchmarks.md); Townhall's views are synchronous, so nothing is lost.
"""

import os
import threading

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "townhall.config.settings")
django_application = get_wsgi_application()

from a2wsgi import WSGIMiddleware  # noqa: E402
from django.conf import settings  # noqa: E402

from townhall.discussions.hotpath import ThreadReadFastPath  # noqa: E402  (needs Django set up)
from townhall.live.streams import LiveStreams  # noqa: E402

_django_in_threads = WSGIMiddleware(django_application, workers=settings.REQUEST_THREADS)  # type: ignore[arg-type]


async def _django(scope, receive, send):
    """Granian's ``receive`` returns an awaitable that is not a coroutine, and a2wsgi hands it
    to ``asyncio.run_coroutine_threadsafe``, which takes coroutines only."""

    async def receive_coroutine():
        return await receive()

    await _django_in_threads(scope, receive_coroutine, send)


application = LiveStreams(ThreadReadFastPath(_django))


def _load_toxicity_model() -> None:
    """The moderation pipeline's table, loaded (compiled, the first time) as the worker starts,
    not on its first post, which would otherwise wait about a second for it."""
    import logging

    from townhall.moderation import toxicity

    try:
        toxicity.model()
    except Exception:  # the first post tries again, and says why
        logging.getLogger(__name__).exception("Could not load the toxicity model")


threading.Thread(target=_load_toxicity_model, name="toxicity-model", daemon=True).start()
