from __future__ import annotations

from django.http import HttpRequest

from townhall.core.clients import request_origin
from townhall.core.errors import Forbidden
from townhall.sites.models import Site


def check_write_origin(request: HttpRequest, site: Site) -> None:
    """A browser may write to a site only from the site's own allowed origins.

    Requests without an Origin header (servers, scripts) pass: CORS protects browsers' cookies
    and tokens, and those clients carry their own.
    """
    origin = request_origin(request)
    if origin is not None and not site.allows_origin(origin):
        raise Forbidden(
            f"Pages at {origin} may not write to site {site.slug!r}.", code="origin_not_allowed"
        )
