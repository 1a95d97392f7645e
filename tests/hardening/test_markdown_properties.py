"""Property-based tests of the comment text paths: whatever a reader posts (``render_markdown``)
or an import brings as HTML (``migration.text.comment_text``), the stored HTML is safe to put
in a publisher's page.

For every generated input the output must

1. parse as an HTML fragment, by a parser that follows the HTML standard (html5lib, the parsing
   a browser does), without errors beyond characters the standard only frowns on;
2. hold only the elements and attributes of the allowlist that ``rendering`` configures;
3. have every URL-bearing attribute start with ``http://``, ``https://`` or ``mailto:`` once the
   parser has resolved entities and the URL parser would have removed tabs, newlines and the
   leading and trailing controls (rendering.py's rule: a relative URL, or ``https:`` without
   slashes, resolves against the publisher's own page);
4. have no ``on*`` handler, no ``style``, no ``<script>``, no comment;

and rendering is deterministic, and its output is a fixed point of the sanitizer (sanitizing
the stored HTML again, as an export or a later migration might, changes nothing).

The strategies mix arbitrary Unicode with the constructs an attacker reaches for: links,
images, autolinks, reference definitions and bare URLs with schemes disguised by case,
entities, percent-encoding, whitespace and control characters; raw HTML with handlers; and the
Markdown that nests them (emphasis, lists, quotes, headings, code, tables).

The settings are fixed (``derandomize``, no example database) so that CI runs the same
examples each time; the whole file takes a few seconds.
"""

from __future__ import annotations

import re

import html5lib
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from townhall.discussions import rendering
from townhall.discussions.rendering import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    ALLOWED_URL_SCHEMES,
    LINK_REL,
    render_markdown,
)
from townhall.migration.text import comment_text

PROPERTY = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Attributes whose value a browser treats as a URL (fetches, navigates to or submits to).
URL_ATTRIBUTES = frozenset(
    {
        "href", "src", "cite", "action", "formaction", "background", "poster", "data",
        "codebase", "longdesc", "srcset", "ping", "manifest", "icon", "lowsrc", "dynsrc",
        "xlink:href", "xml:base", "usemap", "archive", "classid", "profile",
    }
)  # fmt: skip
# The sanitizer adds ``rel`` to every link itself.
ADDED_ATTRIBUTES = {"a": {"rel"}}
# The HTML standard calls control characters and noncharacters in the input parse errors but
# parses them as text: harmless, and a reader may well paste one.
HARMLESS_PARSE_ERRORS = frozenset({"invalid-codepoint"})
_URL_STRIPPED = "".join(chr(c) for c in range(0x21))  # C0 controls and space


# ---- checking the output ---------------------------------------------------------------------


def _parse(html: str):
    parser = html5lib.HTMLParser(tree=html5lib.getTreeBuilder("etree"), namespaceHTMLElements=False)
    fragment = parser.parseFragment(html, container="div")
    errors = [code for _position, code, _vars in parser.errors]
    return fragment, errors


def _url_allowed(value: str) -> bool:
    # What the URL parser does before reading the scheme (WHATWG URL: strip leading and
    # trailing C0 controls and spaces, remove every tab and newline).
    url = re.sub(r"[\t\n\r]", "", value.strip(_URL_STRIPPED)).lower()
    scheme, colon, rest = url.partition(":")
    if not colon or scheme not in ALLOWED_URL_SCHEMES:
        return False
    return scheme == "mailto" or rest.startswith("//")


def assert_safe_html(html: str) -> None:
    """Properties 1-4 of the module docstring, on one rendered fragment."""
    assert isinstance(html, str)
    fragment, errors = _parse(html)
    assert set(errors) <= HARMLESS_PARSE_ERRORS, f"parse errors {errors} in {html!r}"
    for element in fragment.iter():
        if element is fragment:
            continue
        assert isinstance(element.tag, str), f"a comment or processing instruction in {html!r}"
        tag = element.tag
        assert tag in ALLOWED_TAGS, f"<{tag}> is not allowlisted: {html!r}"
        assert tag != "script"
        allowed = ALLOWED_ATTRIBUTES.get(tag, set()) | ADDED_ATTRIBUTES.get(tag, set())
        for name, value in element.attrib.items():
            name = str(name)
            assert name in allowed, f"<{tag} {name}> is not allowlisted: {html!r}"
            assert not name.lower().startswith("on"), f"handler {name} in {html!r}"
            assert name.lower() != "style", f"style attribute in {html!r}"
            if name.lower() in URL_ATTRIBUTES:
                assert _url_allowed(value), f"<{tag} {name}={value!r}> in {html!r}"
        if tag == "a" and "href" in element.attrib:
            assert element.attrib.get("rel") == LINK_REL, html


def assert_stable(source: str, html: str) -> None:
    """Property 5: the same input renders the same; sanitizing the output changes nothing."""
    assert render_markdown(source) == html
    assert rendering._CLEANER.clean(html) == html


# ---- strategies ------------------------------------------------------------------------------

SCHEMES = (
    "javascript", "vbscript", "livescript", "data", "file", "ftp", "jar", "blob", "about",
    "view-source", "intent", "chrome", "ms-its", "feed", "ws", "http", "https", "mailto",
)  # fmt: skip
# Ways to hide a character of a scheme from a naive check.
NOISE = (
    "\t", "\n", "\r", "\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1f", "\x7f", " ", "\u00a0",
    "\u200b", "\u2028", "\ufeff", "&#x09;", "&#9;", "&Tab;", "&NewLine;", "&#10;", "&#0;",
    "%09", "%0a", "%00", "\\", "&#x200b;",
)  # fmt: skip
URL_RESTS = (
    "alert(1)", "alert`1`", "//evil.example/x", "//evil.example", "evil.example/path",
    "text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", "image/svg+xml,<svg onload=alert(1)>",
    "/etc/passwd", "//%0aalert(1)", "x@example.com", "?a=1&b=2#frag", "\"onmouseover=alert(1)",
    "')alert(1)//", "\\evil.example", "%2F%2Fevil.example", "",
)  # fmt: skip
RELATIVE_URLS = (
    "", "/", "/account/delete", "//evil.example", "///evil.example", "\\\\evil.example",
    "/\\evil.example", "./x", "../x", "?q=1", "#top", "x", "evil.example", "https:evil.example",
    "http:/evil.example", "mailto", ":", "::", "jav&#x61;script&colon;alert(1)",
)  # fmt: skip


FORMS = ("plain",) * 8 + ("upper", "dec", "hex", "pad", "pct", "named")


@st.composite
def disguised_schemes(draw) -> str:
    """A scheme and its colon, each character maybe in another case, as an entity or
    percent-escape, or with noise around it."""
    out = []
    for char in draw(st.sampled_from(SCHEMES)) + ":":
        form = draw(st.sampled_from(FORMS))
        if form == "upper":
            char = char.upper()
        elif form == "dec":
            char = f"&#{ord(char)};"
        elif form == "hex":
            char = f"&#x{ord(char):X};"
        elif form == "pad":
            char = f"&#x{ord(char):07x};"
        elif form == "pct":
            char = f"%{ord(char):02x}"
        elif form == "named":
            char = {":": "&colon;", ".": "&period;", "-": "&hyphen;"}.get(char, char)
        out.append(char)
        if draw(st.integers(0, 11)) == 0:
            out.append(draw(st.sampled_from(NOISE)))
    return "".join(out)


def urls() -> st.SearchStrategy[str]:
    safe = st.text(st.characters(codec="ascii", categories=["L", "N"]), max_size=12)
    absolute = st.builds(
        lambda lead, scheme, rest, tail: lead + scheme + rest + tail,
        st.sampled_from(("",) * 6 + NOISE),
        disguised_schemes(),
        st.one_of(st.sampled_from(URL_RESTS), safe),
        st.one_of(st.just(""), st.text(max_size=6)),
    )
    return st.one_of(
        absolute,
        st.sampled_from(RELATIVE_URLS),
        st.builds(lambda host, path: f"https://{host}.example/{path}", safe, safe),
        st.text(max_size=20),
    )


def _label() -> st.SearchStrategy[str]:
    return st.one_of(st.text(max_size=12), st.sampled_from(("click", "", "x", "![i](x)", "`c`")))


def _title() -> st.SearchStrategy[str]:
    return st.one_of(
        st.just(""),
        st.builds(lambda t: f' "{t}"', st.text(max_size=10)),
        st.sampled_from((' "a" onmouseover="alert(1)', " 'x'", " (t)", ' "&quot;><script>"')),
    )


HTML_TAGS = (
    "script", "style", "img", "iframe", "svg", "math", "a", "object", "embed", "form", "input",
    "button", "textarea", "noscript", "template", "base", "meta", "link", "table", "p", "div",
    "span", "b", "pre", "code", "blockquote", "ul", "li", "h1", "title", "xmp", "plaintext",
    "noembed", "select", "details", "video", "source", "mglyph", "annotation-xml", "foreignObject",
    "SCRIPT", "ScRiPt", "frameset", "body", "html", "isindex", "image", "br", "strong", "em",
)  # fmt: skip
HTML_ATTRIBUTES = (
    "href", "src", "action", "formaction", "xlink:href", "srcset", "data", "background",
    "poster", "style", "onerror", "onload", "onclick", "onmouseover", "OnFocus", "autofocus",
    "title", "class", "id", "start", "rel", "target", "cite", "type", "name", "srcdoc",
)  # fmt: skip


@st.composite
def html_attributes(draw) -> str:
    name = draw(st.sampled_from(HTML_ATTRIBUTES))
    value = draw(
        st.one_of(
            urls(),
            st.sampled_from(("alert(1)", "javascript:alert(1)", "x:expression(alert(1))", "")),
        )
    )
    quote = draw(st.sampled_from(('"', "'", "", "`")))
    value = value.replace(quote, "") if quote else re.sub(r"[\s>]", "", value)
    separator = draw(st.sampled_from((" ", "/", "\n", "\t", " \x0c")))
    return f"{separator}{name}={quote}{value}{quote}"


@st.composite
def html_tags(draw, inner: st.SearchStrategy[str] | None = None) -> str:
    tag = draw(st.sampled_from(HTML_TAGS))
    attributes = "".join(draw(st.lists(html_attributes(), max_size=3)))
    content = draw(inner) if inner is not None else draw(st.text(max_size=10))
    closing = draw(st.sampled_from((f"</{tag}>", "", f"</{tag.upper()} >", "</>")))
    return f"<{tag}{attributes}>{content}{closing}"


HTML_ODDITIES = (
    "<!-- <script>alert(1)</script> -->", "<!--><img src=x onerror=alert(1)>-->",
    "<![CDATA[<script>alert(1)</script>]]>", "<!DOCTYPE html>", "<?xml version='1.0'?>",
    "&lt;script&gt;", "&#60;script&#62;alert(1)&#60;/script&#62;", "<", ">", "&", "</p>",
    "<svg><style><img src=x onerror=alert(1)></style></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
    "<a href=\"javascript&colon;alert(1)\">x</a>", "<img src=x:alert(alt) onerror=eval(src)>",
)  # fmt: skip


def _markdown_leaves() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=30),
        st.builds(lambda label, url, title: f"[{label}]({url}{title})", _label(), urls(), _title()),
        st.builds(lambda label, url: f"[{label}](<{url}>)", _label(), urls()),
        st.builds(lambda alt, url, title: f"![{alt}]({url}{title})", _label(), urls(), _title()),
        st.builds(lambda url: f"<{url}>", urls()),
        st.builds(
            lambda label, ref, url, title: f"[{label}][{ref}]\n\n[{ref}]: {url}{title}\n",
            _label(),
            st.sampled_from(("r", "Ref", "x y")),
            urls(),
            _title(),
        ),
        st.builds(lambda url: f"see {url} here", urls()),
        html_tags(),
        st.sampled_from(HTML_ODDITIES),
        st.builds(lambda code: f"`{code}`", st.text(max_size=15)),
        st.builds(lambda code: f"\n```\n{code}\n```\n", st.text(max_size=20)),
        st.builds(lambda code: f"\n\n    {code}\n", st.text(max_size=15)),
        st.sampled_from(
            (
                "\n| a | b |\n|---|---|\n| <b>c</b> | [d](javascript:x) |\n",
                "\n---\n",
                "\n***\n",
                "\\",
                "&amp;",
                "&#0;",
                "&#x110000;",
                "&bogus;",
                "http://example.com/a_b_(c)",
                "mailto:x@example.com",
                "www.example.com",
                "ftp://example.com/f",
                "//evil.example/x",
                "x@example.com",
                "setup.py",
            )
        ),
    )


def _markdown_wrappers(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    joined = st.lists(children, min_size=1, max_size=4).map("".join)
    return st.one_of(
        st.builds(lambda t, m: f"{m}{t}{m}", joined, st.sampled_from(("*", "**", "_", "~~", "`"))),
        st.builds(lambda t, url: f"[{t}]({url})", joined, urls()),
        st.builds(lambda t: f"\n> {t}\n", joined),
        st.builds(lambda t, m: f"\n{m} {t}\n", joined, st.sampled_from(("-", "*", "1.", "3)"))),
        st.builds(lambda t, m: f"\n{m} {t}\n", joined, st.sampled_from(("#", "##", "######"))),
        st.builds(lambda t: f"\n{t}\n===\n", joined),
        html_tags(joined),
    )


def markdown_comments() -> st.SearchStrategy[str]:
    """Comment bodies: pieces of hostile and ordinary Markdown, nested, joined by spacing."""
    pieces = st.recursive(_markdown_leaves(), _markdown_wrappers, max_leaves=10)
    separators = st.sampled_from(("", " ", "\n", "\n\n", "  \n", "\r\n"))
    return st.lists(st.tuples(pieces, separators), max_size=6).map(
        lambda parts: "".join(piece + sep for piece, sep in parts)
    )


def hostile_html() -> st.SearchStrategy[str]:
    """HTML as a source system might have stored it (or an attacker shaped it)."""
    leaves = st.one_of(
        st.text(max_size=20),
        st.text(st.characters(exclude_categories=()), max_size=8),  # lone surrogates too
        html_tags(),
        st.sampled_from(HTML_ODDITIES),
        st.builds(lambda url: f'<a href="{url}">link</a>', urls()),
        st.builds(lambda url: f"<img src='{url}' alt=pic>", urls()),
    )
    tree = st.recursive(
        leaves,
        lambda inner: html_tags(st.lists(inner, min_size=1, max_size=3).map("".join)),
        max_leaves=8,
    )
    return st.lists(tree, max_size=5).map("".join)


# Any str, lone surrogates included (a JSON body may carry "\ud800").
any_text = st.text(st.characters(exclude_categories=()), max_size=200)


# ---- properties ------------------------------------------------------------------------------


@PROPERTY
@given(any_text)
def test_any_text_renders_to_safe_html(source: str) -> None:
    html = render_markdown(source)
    assert_safe_html(html)
    assert_stable(source, html)


@PROPERTY
@given(markdown_comments())
def test_hostile_markdown_renders_to_safe_html(source: str) -> None:
    html = render_markdown(source)
    assert_safe_html(html)
    assert_stable(source, html)


@PROPERTY
@given(hostile_html())
def test_imported_html_becomes_safe_html(html: str) -> None:
    body, body_html = comment_text(None, html)
    assert "\x00" not in body
    assert body == body.strip()
    assert body_html == render_markdown(body)
    assert_safe_html(body_html)
    assert comment_text(None, html) == (body, body_html)


@PROPERTY
@given(
    st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=12),
    st.sampled_from(("http", "https", "HTTPS")),
    st.text(st.characters(codec="ascii", categories=["L", "N"]), max_size=12),
)
def test_allowed_links_stay_links(label: str, scheme: str, path: str) -> None:
    """The other side: the allowlist is not met by dropping everything."""
    url = f"{scheme}://news.example/{path}"
    fragment, _ = _parse(render_markdown(f"[{label}]({url})"))
    links = [element for element in fragment.iter() if element.tag == "a"]
    assert [link.attrib["href"] for link in links] == [url]


# ---- examples that the properties are about --------------------------------------------------

HOSTILE_EXAMPLES = [
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](jav&#x61;script:alert(1))",
    "[x](jav&#97;script&colon;alert(1))",
    "[x](java\tscript:alert(1))",
    "[x](java%09script:alert(1))",
    "[x](\x01javascript:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD4=)",
    "[x](vbscript:msgbox(1))",
    "[x](file:///etc/passwd)",
    "[x](/account/delete)",
    "[x](//evil.example)",
    "[x](https:evil.example)",
    "![x](javascript:alert(1))",
    "![x](https://tracker.example/pixel.gif)",
    "<javascript:alert(1)>",
    "<https://example.com/ok>",
    "[x][r]\n\n[r]: javascript:alert(1)",
    "see javascript:alert(1) and //evil.example and ftp://example.com",
    '<script>alert(1)</script><img src=x onerror=alert(1)><iframe src="javascript:x">',
    '<svg onload=alert(1)><a href="javascript:x" style="x">y</a>',
    "# heading\n\n> quote\n\n- item\n\n```\n<script>\n```",
    "\ud800 lone surrogate",
]


@pytest.mark.parametrize("source", HOSTILE_EXAMPLES)
def test_hostile_example_renders_to_safe_html(source: str) -> None:
    html = render_markdown(source)
    assert_safe_html(html)
    assert_stable(source, html)


def test_lone_surrogates_become_replacement_characters() -> None:
    """A JSON "\\ud800" escape decodes to a lone surrogate, which nh3 (Rust) and the database
    can't take: rendering and the import replace it rather than fail."""
    assert render_markdown("a \ud800 b") == "<p>a \ufffd b</p>"
    assert comment_text("x \udfff", None) == ("x \ufffd", "<p>x \ufffd</p>")
    assert comment_text(None, "<p>y \ud83d</p>") == ("y \ufffd", "<p>y \ufffd</p>")
