"""Server-rendered threads: the HTML fragment API (`/api/v1/threads/html`) and the `/t/` pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import ARTICLE, ORIGIN
from townhall.discussions import html as thread_html_module
from townhall.discussions import views as thread_views
from townhall.widget.assets import embed_script_url

pytestmark = pytest.mark.django_db

HTML_PATH = "/api/v1/threads/html"
SCHEMA = "https://schema.org/"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


# A small DOM and microdata reader, enough to check structure rather than substrings.


@dataclass(eq=False)
class Node:
    tag: str
    attrs: dict[str, str | None]
    parent: Node | None = None
    children: list[Node | str] = field(default_factory=list)

    def elements(self):
        """Every element below this one, in document order."""
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.elements()

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        return [
            node
            for node in self.elements()
            if (tag is None or node.tag == tag)
            and all(node.attrs.get(name.replace("_", "-")) == v for name, v in attrs.items())
        ]

    def find(self, tag: str | None = None, **attrs: str) -> Node:
        [node] = self.find_all(tag, **attrs)
        return node

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def ancestors(self):
        node = self.parent
        while node is not None:
            yield node
            node = node.parent


class _TreeBuilder(HTMLParser):
    """Builds a Node tree and insists on well-formed markup: every element closed, in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), parent=self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, dict(attrs), parent=self.current))

    def handle_endtag(self, tag):
        assert tag not in VOID, f"</{tag}>"
        assert self.current.tag == tag, f"</{tag}> closes <{self.current.tag}>"
        assert self.current.parent is not None
        self.current = self.current.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(markup: bytes | str) -> Node:
    builder = _TreeBuilder()
    builder.feed(markup.decode() if isinstance(markup, bytes) else markup)
    builder.close()
    assert builder.current is builder.root, f"<{builder.current.tag}> is never closed"
    return builder.root


@dataclass
class Item:
    type: str
    node: Node
    props: dict[str, list] = field(default_factory=dict)

    def one(self, name: str):
        values = self.props.get(name, [])
        assert len(values) == 1, (name, values)
        return values[0]

    def all(self, name: str) -> list:
        return self.props.get(name, [])


def microdata(node: Node) -> Item:
    """The item an ``itemscope`` element defines (HTML microdata, without itemref)."""
    item = Item(type=node.attrs.get("itemtype") or "", node=node)

    def walk(parent: Node) -> None:
        for child in parent.children:
            if not isinstance(child, Node):
                continue
            if child.attrs.get("itemprop"):
                for name in (child.attrs["itemprop"] or "").split():
                    item.props.setdefault(name, []).append(_value(child))
            if "itemscope" not in child.attrs:
                walk(child)

    walk(node)
    return item


def _value(node: Node):
    if "itemscope" in node.attrs:
        return microdata(node)
    attribute = {"meta": "content", "time": "datetime", "data": "value", "a": "href"}.get(node.tag)
    if attribute:
        return node.attrs.get(attribute)
    return node.text()


def top_item(document: Node) -> Item:
    [section] = [
        node
        for node in document.find_all("section")
        if "itemscope" in node.attrs and "itemprop" not in node.attrs
    ]
    return microdata(section)


def html_get(api, site, url: str = ARTICLE, **params):
    return api.get(HTML_PATH, site=site.slug, url=url, **params)


def page_get(api, slug: str, **params):
    return api.get(f"/t/{slug}/", **params)


# The fragment's microdata


def test_fragment_carries_schema_org_microdata(api, site):
    root = api.comment(site, "Hello *there*", title="Incirlik", author_name="Ted Zah").json()
    api.post(f"/api/v1/comments/{root['comment']['id']}/vote", {"value": 1})
    api.post(
        f"/api/v1/comments/{root['comment']['id']}/vote", {"value": -1}, remote_addr="10.1.1.1"
    )
    api.post(f"/api/v1/comments/{root['comment']['id']}/vote", {"value": 1}, remote_addr="10.1.1.2")
    json_page = api.thread(site).json()

    response = html_get(api, site)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    document = parse(response.content)
    thread = top_item(document)
    assert thread.type == SCHEMA + "DiscussionForumPosting"
    assert thread.node.attrs["class"] == "townhall-thread"
    assert thread.node.attrs["data-townhall-thread"] == str(json_page["thread"]["id"])
    assert thread.one("url") == ARTICLE
    assert thread.one("headline") == "Incirlik"
    assert thread.one("commentCount") == "1"
    assert document.find("h2").text() == "1 Comment"

    comment = thread.one("comment")
    shown = json_page["comments"][0]
    assert comment.type == SCHEMA + "Comment"
    assert comment.node.tag == "article"
    assert comment.node.attrs["id"] == f"townhall-comment-{shown['id']}"
    author = comment.one("author")
    assert author.type == SCHEMA + "Person"
    assert author.one("name") == "Ted Zah"
    assert comment.one("dateCreated") == shown["created"]
    time = comment.node.find("time", itemprop="dateCreated")
    assert time.text().strip()  # a date people read, not only the machine's
    assert comment.one("text").strip() == "Hello there"
    assert "<em>there</em>" in response.content.decode()  # the sanitized HTML, not escaped
    assert (comment.one("upvoteCount"), comment.one("downvoteCount")) == ("2", "1")
    assert comment.all("comment") == []


def test_replies_nest_inside_their_parent(api, site):
    root = api.comment(site, "Root").json()["comment"]
    first = api.comment(site, "First reply", parent_id=root["id"]).json()["comment"]
    second = api.comment(site, "Second reply", parent_id=root["id"]).json()["comment"]
    nested = api.comment(site, "Reply to first", parent_id=first["id"]).json()["comment"]

    document = parse(html_get(api, site).content)
    thread = top_item(document)
    [shown_root] = thread.all("comment")
    assert shown_root.node.attrs["id"] == f"townhall-comment-{root['id']}"
    replies = shown_root.all("comment")
    assert [r.node.attrs["id"] for r in replies] == [
        f"townhall-comment-{first['id']}",
        f"townhall-comment-{second['id']}",
    ]
    [deep] = replies[0].all("comment")
    assert deep.node.attrs["id"] == f"townhall-comment-{nested['id']}"
    assert deep.one("text").strip() == "Reply to first"
    # In the DOM: each comment is an <li> of an <ol>, replies in an <ol> inside the parent's
    # article (and so inside its <li>).
    for item in (shown_root, *replies, deep):
        assert item.node.parent.tag == "li" and item.node.parent.parent.tag == "ol"
    assert shown_root.node in deep.node.ancestors()
    assert deep.node.parent.parent.parent is replies[0].node


def test_comments_follow_the_json_order(api, site):
    posted = [api.comment(site, f"Comment {n}").json()["comment"]["id"] for n in range(4)]
    api.post(f"/api/v1/comments/{posted[1]}/vote", {"value": 1})
    for sort in ("newest", "oldest", "most_voted"):
        expected = [c["id"] for c in api.thread(site, sort=sort).json()["comments"]]
        shown = top_item(parse(html_get(api, site, sort=sort).content)).all("comment")
        assert [c.node.attrs["id"] for c in shown] == [f"townhall-comment-{i}" for i in expected]
    assert expected[0] == posted[1]


def test_deleted_comment_is_a_placeholder_without_author(api, site):
    posted = api.comment(site, "Parent text", author_name="Gone Person").json()
    child = api.comment(site, "Child", parent_id=posted["comment"]["id"]).json()["comment"]
    api.delete(f"/api/v1/comments/{posted['comment']['id']}", token=posted["edit_token"])

    response = html_get(api, site)
    document = parse(response.content)
    [placeholder] = top_item(document).all("comment")
    assert placeholder.type == SCHEMA + "Comment"
    assert "author" not in placeholder.props and "text" not in placeholder.props
    assert "This comment was deleted." in placeholder.node.text()
    assert b"Gone Person" not in response.content and b"Parent text" not in response.content
    [reply] = placeholder.all("comment")
    assert reply.node.attrs["id"] == f"townhall-comment-{child['id']}"
    assert reply.one("author").one("name") == "Anonymous"


def test_article_without_comments(api, site):
    response = html_get(api, site)
    assert response.status_code == 200
    document = parse(response.content)
    thread = top_item(document)
    assert thread.node.attrs["data-townhall-thread"] == ""
    assert thread.one("commentCount") == "0" and thread.all("comment") == []
    assert "headline" not in thread.props
    assert document.find("h2").text() == "0 Comments"
    assert document.find_all("a", rel="next") == []


# Hostile input


HOSTILE_BODIES = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[click](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "![pic](javascript:alert(1))",
    '<svg onload=alert(1)></svg> <iframe src="https://evil.example/"></iframe>',
    "[x](JaVaScRiPt:alert(1)) <style>body{display:none}</style>",
]


def _assert_inert(document: Node, allowed_scripts: int = 0) -> None:
    assert len(document.find_all("script")) == allowed_scripts
    for tag in ("iframe", "img", "svg", "object", "embed", "form", "base"):
        assert document.find_all(tag) == [], tag
    for node in document.elements():
        for name, value in node.attrs.items():
            assert not name.startswith("on"), (node.tag, name)
            if name in ("href", "src", "content", "action") and value:
                assert not value.strip().lower().startswith(("javascript:", "data:")), value


def test_hostile_bodies_and_names_render_inert(api, site):
    for body in HOSTILE_BODIES:
        assert api.comment(site, body).status_code == 201
    api.comment(site, "Hi", author_name='<script>alert("name")</script>')
    api.comment(site, "Hello", author_name='" onmouseover="alert(1)')

    response = html_get(api, site)
    content = response.content.decode()
    document = parse(content)
    _assert_inert(document)
    assert document.find_all("style") == []
    assert "<script" not in content.lower()
    names = [c.one("author").one("name") for c in top_item(document).all("comment")]
    assert '<script>alert("name")</script>' in names  # shown as text
    assert '" onmouseover="alert(1)' in names
    assert "&lt;script&gt;" in content


def test_hostile_title_and_url_are_escaped_on_the_page(api, site):
    url = f'{ORIGIN}/a/"><script>alert(1)</script>'
    api.comment(site, "Hi", url=url, title='</title><script>alert("t")</script>')
    for response in (html_get(api, site, url=url), page_get(api, site.slug, url=url)):
        assert response.status_code == 200
        document = parse(response.content)
        scripts = document.find_all("script")
        assert all(s.attrs.get("src") == embed_script_url() for s in scripts)
        _assert_inert(document, allowed_scripts=len(scripts))
    title = parse(page_get(api, site.slug, url=url).content).find("title").text()
    assert title == 'Comments: </title><script>alert("t")</script>'


# Caching


def test_etag_gives_304_until_the_thread_changes(api, site):
    api.comment(site, "First")
    first = html_get(api, site)
    etag = first["ETag"]
    assert etag.startswith('"') and etag != api.thread(site)["ETag"]
    assert first["Cache-Control"] == api.thread(site)["Cache-Control"]

    again = html_get(api, site, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again["ETag"] == etag

    api.comment(site, "Second")
    changed = html_get(api, site, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed["ETag"] != etag
    texts = [c.one("text").strip() for c in top_item(parse(changed.content)).all("comment")]
    assert texts == ["Second", "First"]


def test_vote_and_delete_change_the_html(api, site):
    posted = api.comment(site, "Vote on me").json()
    comment_id = posted["comment"]["id"]
    assert top_item(parse(html_get(api, site).content)).one("comment").one("upvoteCount") == "0"
    api.post(f"/api/v1/comments/{comment_id}/vote", {"value": 1})
    assert top_item(parse(html_get(api, site).content)).one("comment").one("upvoteCount") == "1"
    api.delete(f"/api/v1/comments/{comment_id}", token=posted["edit_token"])
    assert top_item(parse(html_get(api, site).content)).all("comment") == []


def test_warm_requests_reuse_the_rendered_html(api, site, monkeypatch, django_assert_num_queries):
    root = api.comment(site, "Root").json()["comment"]
    api.comment(site, "Reply", parent_id=root["id"])
    first = html_get(api, site)
    page = page_get(api, site.slug, url=ARTICLE)
    assert page.status_code == 200

    def no_rendering(*args, **kwargs):
        raise AssertionError("rendered again")

    monkeypatch.setattr(thread_html_module, "render_to_string", no_rendering)
    # The site and the thread's version; the JSON page from memory, the HTML from the cache.
    with django_assert_num_queries(2):
        again = html_get(api, site)
    assert again.content == first.content and again["ETag"] == first["ETag"]
    with django_assert_num_queries(2):
        assert page_get(api, site.slug, url=ARTICLE).content == page.content


def test_html_cache_key_follows_the_template_version(api, site, monkeypatch):
    api.comment(site, "Root")
    first = html_get(api, site)
    monkeypatch.setattr(thread_html_module, "template_version", lambda: "other")
    monkeypatch.setattr(thread_html_module, "render_to_string", lambda *a, **k: "<p>new</p>")
    assert html_get(api, site).content == b"<p>new</p>" != first.content


# Pages of roots


def test_next_page_link_when_more_roots_than_the_limit(api, site):
    posted = [api.comment(site, f"Comment {n}").json()["comment"]["id"] for n in range(5)]
    seen: list[str] = []
    params: dict = {"sort": "oldest", "limit": "2"}
    for _ in range(5):
        document = parse(html_get(api, site, **params).content)
        seen += [c.node.attrs["id"] for c in top_item(document).all("comment")]
        links = document.find_all("a", rel="next")
        if not links:
            break
        [link] = links
        assert link.text() == "Newer comments"
        href = link.attrs["href"] or ""
        assert href.startswith("?")
        query = {k: v for k, [v] in parse_qs(href[1:], strict_parsing=True).items()}
        assert query["site"] == site.slug and query["url"] == ARTICLE
        assert (query["sort"], query["limit"]) == ("oldest", "2")
        params = {k: v for k, v in query.items() if k not in ("site", "url")}
    assert seen == [f"townhall-comment-{i}" for i in posted]
    # One page holds them all: no link.
    assert parse(html_get(api, site, limit=5).content).find_all("a", rel="next") == []
    # Newest first (the default) says "Older comments".
    newest = parse(html_get(api, site, limit=2).content)
    assert newest.find("a", rel="next").text() == "Older comments"


def test_next_page_link_works_on_the_standalone_page(api, site):
    for n in range(3):
        api.comment(site, f"Comment {n}")
    document = parse(page_get(api, site.slug, url=ARTICLE, limit="2").content)
    href = document.find("a", rel="next").attrs["href"] or ""
    following = api.client.get(f"/t/{site.slug}/{href}")
    assert following.status_code == 200
    [last] = top_item(parse(following.content)).all("comment")
    assert last.one("text").strip() == "Comment 0"


def test_more_replies_link_shows_them_all_on_the_standalone_page(api, site):
    root = api.comment(site, "Root").json()["comment"]
    for n in range(5):
        api.comment(site, f"Reply {n}", parent_id=root["id"], remote_addr=f"10.0.3.{n}")
    document = parse(page_get(api, site.slug, url=ARTICLE).content)
    link = document.find("p", **{"class": "townhall-comment__more"}).find("a")
    assert link.text() == "2 more replies"
    href = link.attrs["href"] or ""
    assert href.endswith(f"#townhall-comment-{root['id']}")
    following = parse(api.client.get(f"/t/{site.slug}/{href.split('#')[0]}").content)
    [item] = top_item(following).all("comment")
    assert [reply.one("text").strip() for reply in item.all("comment")] == [
        f"Reply {n}" for n in range(5)
    ]
    assert following.find_all("p", **{"class": "townhall-comment__more"}) == []


@pytest.mark.parametrize("replies", ["-1", "1001", "x"])
def test_standalone_page_refuses_a_bad_number_of_replies(api, site, replies):
    response = page_get(api, site.slug, url=ARTICLE, replies=replies)
    assert response.status_code == 400
    assert b"replies is a number from 0 to 1000" in response.content


# Errors of the API route: as the JSON thread's


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"site": "nope", "url": ARTICLE}, 404, "unknown_site"),
        ({"site": "news", "url": "not a url"}, 400, "invalid_url"),
        ({"site": "news", "url": "javascript:alert(1)"}, 400, "invalid_url"),
        ({"site": "news", "url": ARTICLE, "limit": 0}, 422, "invalid_request"),
        ({"site": "news", "url": ARTICLE, "limit": 1000}, 422, "invalid_request"),
        ({"site": "news", "url": ARTICLE, "sort": "hottest"}, 422, "invalid_request"),
        ({"site": "news", "url": ARTICLE, "cursor": "garbage!"}, 400, "invalid_cursor"),
        ({"site": "news"}, 422, "invalid_request"),
    ],
)
def test_bad_html_requests_get_the_api_json_4xx(api, site, params, status, code):
    response = api.get(HTML_PATH, **params)
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == code


def test_openapi_documents_the_html_route(api, site):
    response = api.get("/api/openapi.json")
    assert response.status_code == 200
    operation = response.json()["paths"][HTML_PATH]["get"]
    assert set(operation["responses"]["200"]["content"]) == {"text/html"}
    assert {"304", "400", "404", "422"} <= set(operation["responses"])
    assert {p["name"] for p in operation["parameters"]} == {
        "site",
        "url",
        "sort",
        "limit",
        "cursor",
        "only",
        "replies",
    }
    assert "microdata" in operation["description"]


# The standalone page


def test_standalone_page_wraps_the_fragment_for_the_widget(api, site):
    api.comment(site, "Hello", title="Incirlik airbase")
    response = page_get(api, site.slug, url=f"{ARTICLE}?utm_source=x#comments")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    content = response.content.decode()
    assert content.startswith("<!doctype html>")
    document = parse(content)
    assert document.find("html").attrs["lang"] == "en"
    assert document.find("title").text() == "Comments: Incirlik airbase"
    canonical = document.find("link", rel="canonical").attrs["href"] or ""
    parts = urlsplit(canonical)
    assert (parts.scheme, parts.netloc, parts.path) == ("http", "testserver", "/t/news/")
    assert parse_qs(parts.query) == {"url": [ARTICLE]}
    assert document.find_all("meta", name="robots") == []
    assert ARTICLE in [a.attrs.get("href") for a in document.find_all("a")]

    container = document.find("div", id="townhall")
    assert (container.attrs["data-site"], container.attrs["data-url"]) == ("news", ARTICLE)
    assert top_item(container).one("comment").one("text").strip() == "Hello"

    [script] = document.find_all("script")
    assert script.attrs["src"] == embed_script_url()
    assert (script.attrs["data-site"], script.attrs["data-url"]) == ("news", ARTICLE)
    assert "async" in script.attrs
    body = document.find("body")
    assert [n for n in body.children if isinstance(n, Node)][-1] is script


def test_standalone_page_etag_and_an_uncommented_article(api, site):
    response = page_get(api, site.slug, url=ARTICLE, sort="oldest")
    assert response.status_code == 200
    document = parse(response.content)
    assert document.find("meta", name="robots").attrs["content"] == "noindex"
    assert document.find("title").text() == f"Comments: {ARTICLE}"
    canonical = document.find("link", rel="canonical").attrs["href"] or ""
    assert parse_qs(urlsplit(canonical).query) == {"url": [ARTICLE], "sort": ["oldest"]}
    etag = response["ETag"]
    again = page_get(api, site.slug, url=ARTICLE, sort="oldest", headers={"If-None-Match": etag})
    assert again.status_code == 304
    api.comment(site, "Now there is one")
    changed = page_get(api, site.slug, url=ARTICLE, sort="oldest", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and b"Now there is one" in changed.content


def test_standalone_page_without_the_widget_script_still_shows_the_thread(api, site, monkeypatch):
    def missing() -> str:
        raise FileNotFoundError("embed.js")

    monkeypatch.setattr(thread_views, "embed_script_url", missing)
    api.comment(site, "Still here")
    response = page_get(api, site.slug, url=ARTICLE)
    assert response.status_code == 200
    document = parse(response.content)
    assert document.find_all("script") == []
    assert top_item(document).one("comment").one("text").strip() == "Still here"


@pytest.mark.parametrize(
    ("slug", "params", "status", "says"),
    [
        ("nope", {"url": ARTICLE}, 404, "There is no site"),
        ("news", {}, 400, "Which article?"),
        ("news", {"url": ""}, 400, "Which article?"),
        ("news", {"url": "not a url"}, 400, "http(s) URL"),
        ("news", {"url": "javascript:alert(1)"}, 400, "http(s) URL"),
        ("news", {"url": "https://elsewhere.example/a/"}, 404, "has no articles at"),
        ("news", {"url": ARTICLE, "sort": "hottest"}, 400, "sorted by"),
        ("news", {"url": ARTICLE, "limit": "0"}, 400, "limit"),
        ("news", {"url": ARTICLE, "limit": "9" * 5000}, 400, "limit"),
        ("news", {"url": ARTICLE, "limit": "²"}, 400, "limit"),
        ("news", {"url": ARTICLE, "cursor": "garbage!"}, 400, "cursor"),
    ],
)
def test_standalone_page_errors_are_readable_html(api, site, slug, params, status, says):
    response = page_get(api, slug, **params)
    assert response.status_code == status
    assert response["Content-Type"] == "text/html; charset=utf-8"
    document = parse(response.content)
    assert says in document.find("body").text()
    assert document.find("meta", name="robots").attrs["content"] == "noindex"


def test_standalone_page_error_escapes_what_the_reader_sent(api, site):
    response = page_get(api, "news", url="<script>alert(1)</script>")
    assert response.status_code == 400
    document = parse(response.content)
    assert document.find_all("script") == []
    assert "<script>alert(1)</script>" in document.find("body").text()


def test_standalone_page_refuses_writes(api, site):
    response = api.client.post(f"/t/{site.slug}/?url={ARTICLE}")
    assert response.status_code == 405
