"""Render a reader's comment Markdown to safe HTML (once, when the comment is written).

Two independent layers, so that a bug in either one alone is not an XSS:

1. **markdown-it-py**, configured for comments rather than documents:

   * CommonMark, plus strikethrough (``~~gone~~``) and ``breaks=True``: readers type in a
     textarea and expect Enter to start a new line, not to be folded into a space.
   * ``html=False``: raw HTML is never passed through; ``<b>`` shows up as the text ``<b>``.
   * Linkify (needs the pure-Python ``linkify-it-py``) for bare URLs, but only with an explicit
     ``http://``, ``https://`` or ``mailto:``. Fuzzy matching is off: it would turn ``setup.py``
     or ``README.md`` into links to ``http://setup.py`` and make every e-mail address a
     harvestable ``mailto:``.
   * Links are validated by an allowlist: only absolute ``http://``, ``https://`` and
     ``mailto:`` URLs become links. Anything else, relative URLs included, stays literal
     Markdown text. A comment is embedded in the publisher's article, so a relative ``href``
     would resolve against the publisher's own site (``[win](/account/delete)``); so would
     ``https:foo`` (no slashes) on an https page. A link that looks like the site's own link is
     not the reader's to make.
   * Images are rendered as an ordinary link to the image URL, labelled with the alt text (or the
     URL). An ``<img>`` would be fetched by every visitor's browser when the page loads, which
     leaks readers' IP addresses and visits to whoever posted it (a tracking pixel) and lets
     anyone hot-link arbitrary pictures into a news page. A link keeps what the reader meant
     (look at this) and fetches nothing until someone clicks it.
   * Headings become ``<p><strong>…</strong></p>``. A comment is a fragment of someone else's
     page: its headings would join the article's outline (screen-reader heading navigation,
     SEO) and pick up the site's heading styles. A bold paragraph keeps the emphasis.

2. **nh3** (ammonia) sanitizes the result to a small allowlist of tags and attributes, allows
   only the http, https and mailto URL schemes, drops relative URLs, and sets
   ``rel="nofollow ugc noopener"`` on every link. ``target`` is not allowed, so links never
   open new windows (and can't reach ``window.opener``).

The parser and the sanitizer are built once at import and only read afterwards, so
``render_markdown`` is safe to call from several threads at once.

Requires nh3 >= 0.3.6 (``Cleaner`` and ``url_relative``) and linkify-it-py (linkify-it-py >= 2.2
keeps no per-call state on its matcher; older releases cache the last match on the instance).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import nh3
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

__all__ = ["render_markdown", "without_lone_surrogates"]

ALLOWED_TAGS: frozenset[str] = frozenset(
    {
        "p", "br", "strong", "em", "del", "s", "code", "pre",
        "blockquote", "ul", "ol", "li", "a",
    }
)  # fmt: skip
# ``start`` keeps "3. third point" numbered as 3; ammonia controls ``rel`` itself.
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {"a": {"href", "title"}, "ol": {"start"}}
ALLOWED_URL_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow ugc noopener"

# Checked against the normalized (percent-encoded) URL, so whitespace, control characters and
# backslashes are already escaped and can't hide a scheme. The slashes are required: per the
# URL standard "https:evil" is a relative URL when the embedding page is itself https.
_LINK_PREFIXES = ("http://", "https://", "mailto:")


# Half of a UTF-16 pair on its own: a JSON string may hold one (``"\ud800"`` decodes to it), but
# it is no character, has no UTF-8 form, and the sanitizer (Rust) can't take it.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def without_lone_surrogates(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD, the replacement character."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def normalize_body(text: str) -> str:
    """A comment's Markdown as it is stored: Unix line ends, no NUL (no database takes it), no
    surrounding whitespace. Posted and imported comments alike."""
    return text.replace("\r\n", "\n").replace("\x00", "").strip()


def _validate_link(url: str) -> bool:
    return url.lower().startswith(_LINK_PREFIXES)


def _render_heading_open(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return "<p><strong>"


def _render_heading_close(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return "</strong></p>\n"


def _plain_text(tokens: Sequence[Token]) -> str:
    """The text of inline tokens with the markup dropped (an image's alt text)."""
    parts: list[str] = []
    for token in tokens:
        if token.type == "image":
            parts.append(_plain_text(token.children or []))
        elif token.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        else:
            parts.append(token.content)
    return "".join(parts)


def _images_to_links(state: StateCore) -> None:
    """Core rule: replace each image token by a link to the image, labelled with its alt text.

    Inside a link (``[![alt](img)](url)``) a nested ``<a>`` would be invalid, so only the label
    is kept there.
    """
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        children: list[Token] = []
        depth = 0
        for token in block.children:
            depth += (token.type == "link_open") - (token.type == "link_close")
            if token.type != "image":
                children.append(token)
                continue
            src = str(token.attrGet("src") or "")
            label = _plain_text(token.children or [])
            text = Token("text", "", 0, level=token.level, content=label or src)
            if depth > 0 or not src:
                children.append(text)
                continue
            link_open = Token("link_open", "a", 1, level=token.level, attrs={"href": src})
            if title := token.attrGet("title"):
                link_open.attrSet("title", str(title))
            text.level += 1
            children += [link_open, text, Token("link_close", "a", -1, level=token.level)]
        block.children = children


def _build_markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": True, "breaks": True})
    md.enable(["strikethrough", "linkify"])
    md.validateLink = _validate_link  # type: ignore[method-assign]
    if md.linkify is None:  # pragma: no cover - depends on the environment
        raise ImportError("townhall comment rendering needs linkify-it-py")
    md.linkify.set({"fuzzy_link": False, "fuzzy_email": False, "fuzzy_ip": False})
    md.linkify.add("ftp:", None)  # would never survive the scheme allowlist
    md.linkify.add("//", None)  # protocol-relative: resolves against the publisher's page
    md.add_render_rule("heading_open", _render_heading_open)
    md.add_render_rule("heading_close", _render_heading_close)
    md.core.ruler.push("townhall_images_to_links", _images_to_links)
    # Rulers compile their rule chains lazily on first use, filling a shared dict in place; do it
    # now, single-threaded, so concurrent first renders never see a half-built chain.
    for ruler in (md.core.ruler, md.block.ruler, md.inline.ruler, md.inline.ruler2):
        ruler.getRules("")
    return md


_MARKDOWN = _build_markdown()
_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags={"script", "style"},
    attributes=ALLOWED_ATTRIBUTES,
    link_rel=LINK_REL,
    url_schemes=set(ALLOWED_URL_SCHEMES),
    url_relative="deny",
    strip_comments=True,
)


def render_markdown(source: str) -> str:
    """Render comment Markdown to sanitized HTML; blank input gives ``""``."""
    if not source.strip():
        return ""
    return _CLEANER.clean(_MARKDOWN.render(without_lone_surrogates(source))).strip()
