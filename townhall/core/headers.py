"""The security headers of each kind of response Townhall serves (docs/deploy.md, "Security
headers"); ``core.middleware.SecurityHeadersMiddleware`` applies them, and the ASGI layers in
front of Django (the thread-read fast path, the live streams) send ``API_HEADERS``.

Django's own middleware adds what it knows: ``X-Content-Type-Options: nosniff`` and
``Referrer-Policy`` (``SecurityMiddleware``), ``X-Frame-Options: DENY`` (clickjacking).
Nothing Townhall serves is meant to be framed: the widget is a script on the publisher's page
that renders into a Shadow DOM and talks to the API with ``fetch`` and ``EventSource``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path

# JSON, event streams, HTML fragments, scripts: opened directly, they load and run nothing.
MINIMAL_CSP = "default-src 'none'; frame-ancestors 'none'"
# The API's documents never navigate; a redirect from it passes on no address.
API_REFERRER_POLICY = "no-referrer"
API_HEADERS: dict[str, str] = {
    "Content-Security-Policy": MINIMAL_CSP,
    "Referrer-Policy": API_REFERRER_POLICY,
}

TEMPLATES = Path(__file__).resolve().parent.parent
_STYLE_ELEMENT = re.compile(r"<style>(.*?)</style>", re.DOTALL)
# The one style attribute a Townhall template writes with a value: the goal bar's fill
# (support/goal_bar.html). Only this shape is hashed from a page's body, never anything else.
_GOAL_BAR_WIDTH = re.compile(r'<span class="townhall-campaign__fill" style="(width: [0-9.]+%)">')


def csp_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


@cache
def template_style_hashes() -> tuple[str, ...]:
    """The hashes of the literal ``<style>`` elements in Townhall's page templates (those
    without template syntax inside), so a page may carry its few rules inline while a style
    element that came from anywhere else is refused."""
    hashes = set()
    for path in sorted(TEMPLATES.glob("*/templates/**/*.html")):
        if "email" in path.parts:
            continue  # mail is read by mail programs, which ignore CSP
        for block in _STYLE_ELEMENT.findall(path.read_text("utf-8")):
            if "{{" not in block and "{%" not in block:
                hashes.add(csp_hash(block))
    return tuple(sorted(hashes))


@cache
def widget_style_hashes() -> tuple[str, ...]:
    """The widget's own style sheets, which it puts into its Shadow DOM (and one into the page
    for passage highlights) as ``<style>`` elements."""
    from townhall.widget.assets import style_sheets

    return tuple(sorted({csp_hash(sheet) for sheet in style_sheets()}))


def page_csp(body: bytes = b"") -> str:
    """The policy of Townhall's own HTML pages (the demo, the thread page, notification pages,
    the admin): scripts and style sheets from this server only, no inline script at all, inline
    styles only by hash; the API and the live stream on this server; never framed.

    ``body`` is the page, for the goal bar's fill width (a style attribute, allowed by hash
    with ``'unsafe-hashes'``)."""
    styles = ["'self'", *template_style_hashes(), *widget_style_hashes()]
    widths = sorted({csp_hash(width) for width in _goal_bar_widths(body)})
    attributes = " ".join(["'unsafe-hashes'", *widths]) if widths else "'none'"
    directives = [
        "default-src 'none'",
        "script-src 'self'",
        "style-src " + " ".join(styles),
        "style-src-attr " + attributes,
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
    return "; ".join(directives)


def _goal_bar_widths(body: bytes) -> Iterable[str]:
    if b"townhall-campaign__fill" not in body:
        return ()
    return _GOAL_BAR_WIDTH.findall(body.decode("utf-8", "replace"))
