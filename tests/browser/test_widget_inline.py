"""Inline feedbacks: comments on a passage of the article, re-anchored when its text changes."""

from __future__ import annotations

import re
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.browser.support import comment_in, open_article, wait_for_widget

pytestmark = pytest.mark.usefixtures("widget_available")

PHRASE = "Turkish Foreign Minister Mevlut Cavusoglu"
SELECT = """phrase => {
  const article = document.querySelector("article");
  const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
  for (let node; (node = walker.nextNode());) {
    const at = node.data.indexOf(phrase);
    if (at < 0) continue;
    const range = document.createRange();
    range.setStart(node, at);
    range.setEnd(node, at + phrase.length);
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    document.dispatchEvent(new MouseEvent("mouseup", { bubbles: true }));
    return true;
  }
  return false;
}"""


def comment_on_selection(page, phrase: str, body: str, name: str = "Ada Lovelace"):
    assert page.evaluate(SELECT, phrase)
    page.get_by_role("button", name="Comment on this", exact=True).click()
    inline = page.locator(".townhall-inline")
    expect(inline.get_by_role("form", name="What do you think of this passage?")).to_be_visible()
    expect(inline.locator("p.question")).to_have_text("What do you think of this passage?")
    inline.get_by_role("textbox", name="Name", exact=True).fill(name)
    inline.get_by_role("textbox", name="What do you think of this passage?", exact=True).fill(body)
    inline.get_by_role("button", name="Post Comment", exact=True).click()
    expect(inline).to_have_count(0)


def test_commenting_on_a_selection_highlights_it_and_quotes_it(page, server):
    widget = open_article(page, server)
    comment_on_selection(page, PHRASE, "Who asked him?")
    expect(page.locator("mark.townhall-passage")).to_have_text(PHRASE)
    mine = comment_in(widget, "Ada Lovelace")
    expect(mine.locator("blockquote")).to_have_text(PHRASE)
    expect(mine.get_by_role("button", name="Show in article")).to_be_visible()
    stored = server.find_comment(lambda c: "Who asked him" in c["html"])
    assert stored["passage"]["quote"]["exact"] == PHRASE
    assert stored["passage"]["position"]["end"] - stored["passage"]["position"]["start"] == len(
        PHRASE
    )
    # After a reload, read back from the server and anchored again.
    page.reload()
    widget = wait_for_widget(page)
    expect(page.locator("mark.townhall-passage")).to_have_text(PHRASE)
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    comment_in(widget, "Ada Lovelace").get_by_role("button", name="Show in article").click()
    expect(page.locator("mark.townhall-passage")).to_be_in_viewport()


SAID = "Foreign Minister Mevlut Cavusoglu has said"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        # A typo fixed inside the passage: found where it now is, with the new spelling.
        (
            lambda html: html.replace("Mevlut Cavusoglu", "Mevlüt Çavuşoğlu"),
            "Foreign Minister Mevlüt Çavuşoğlu has said",
        ),
        # A paragraph inserted before it: every offset moves.
        (
            lambda html: html.replace(
                "<article>", "<article><p>Update: a paragraph added before all the rest.</p>", 1
            ),
            SAID,
        ),
    ],
    ids=["typo-fixed", "paragraph-inserted"],
)
def test_a_passage_is_found_again_after_the_article_changed(page, server, change, expected):
    open_article(page, server)
    comment_on_selection(page, SAID, "He did say it.")
    with urllib.request.urlopen(page.url) as response:  # noqa: S310
        html = change(response.read().decode())
    assert expected in html
    page.route(
        page.url,
        lambda route: route.fulfill(status=200, content_type="text/html", body=html),
    )
    page.reload()
    widget = wait_for_widget(page)
    expect(page.locator("mark.townhall-passage")).to_have_text(expected)
    # The comment keeps the words it was written about.
    expect(comment_in(widget, "Ada Lovelace").locator("blockquote")).to_have_text(SAID)


def test_an_author_marked_passage_asks_its_question_and_counts(page, server):
    widget = open_article(page, server)
    count = page.get_by_role("button", name="0 comments on this passage", exact=True)
    expect(count).to_be_visible()
    count.click()
    inline = page.locator(".townhall-inline")
    expect(inline.locator("p.question")).to_have_text("Should Turkey open Incirlik to Russia?")
    inline.get_by_role("textbox", name="Name", exact=True).fill("Grace Hopper")
    inline.get_by_role("textbox", name="Should Turkey open Incirlik to Russia?", exact=True).fill(
        "Not yet."
    )
    inline.get_by_role("button", name="Post Comment", exact=True).click()
    expect(page.get_by_role("button", name="1 comment on this passage", exact=True)).to_be_visible()
    stored = server.find_comment(lambda c: "Not yet." in c["html"])
    assert stored["passage"]["id"] == "incirlik-offer"
    assert stored["passage"]["quote"]["exact"].startswith("Ankara could let Moscow")
    expect(comment_in(widget, "Grace Hopper").locator("blockquote")).to_contain_text(
        "Ankara could let Moscow"
    )
    page.reload()
    wait_for_widget(page)
    expect(page.get_by_role("button", name="1 comment on this passage", exact=True)).to_be_visible()
    expect(
        page.locator('[data-townhall-passage="incirlik-offer"] mark.townhall-passage')
    ).to_have_count(1)


def test_the_inline_feedbacks_filter_and_view_all(page, server):
    widget = open_article(page, server)
    comment_on_selection(page, PHRASE, "Only this one is inline.")
    articles = widget.locator("ol.comments > li > article.comment")
    expect(articles.filter(has_text="Only this one is inline.")).to_have_count(1)
    total = articles.count()
    assert total > 1
    widget.get_by_role("button", name="Inline Feedbacks", exact=True).click()
    expect(widget.get_by_role("button", name="Inline Feedbacks", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(articles.filter(visible=True)).to_have_count(1)
    expect(articles.filter(visible=True)).to_contain_text("Only this one is inline.")
    widget.get_by_role("button", name="View all comments", exact=True).click()
    expect(articles.filter(visible=True)).to_have_count(total)
    expect(widget.get_by_role("button", name="View all comments", exact=True)).to_be_hidden()


CHAR_BOXES = """phrase => {
  const walker = document.createTreeWalker(document.querySelector("article"), NodeFilter.SHOW_TEXT);
  for (let node; (node = walker.nextNode());) {
    const at = node.data.indexOf(phrase);
    if (at < 0) continue;
    const box = (i) => {
      const range = document.createRange();
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      const r = range.getBoundingClientRect();
      return { left: r.left, right: r.right, y: r.top + r.height / 2 };
    };
    return [box(at), box(at + phrase.length - 1)];
  }
  return null;
}"""


def test_a_real_mouse_drag_offers_comment_on_this(page, server):
    open_article(page, server)
    phrase = "Terrorism is our common enemy."
    first, last = page.evaluate(CHAR_BOXES, phrase)
    assert abs(first["y"] - last["y"]) < 2, "the phrase should sit on one line at this width"
    page.mouse.move(first["left"] + 1, first["y"])
    page.mouse.down()
    page.mouse.move(last["right"] - 1, last["y"], steps=12)
    page.mouse.up()
    assert page.evaluate("() => getSelection().toString()") == phrase
    ask = page.get_by_role("button", name="Comment on this", exact=True)
    expect(ask).to_be_visible()
    box = ask.bounding_box()
    assert box is not None and box["y"] > first["y"]  # under the selection
    ask.click()
    inline = page.locator(".townhall-inline")
    inline.get_by_role("textbox", name="Name", exact=True).fill("Mouse User")
    inline.get_by_role("textbox", name="What do you think of this passage?", exact=True).fill(
        "Dragged."
    )
    inline.get_by_role("button", name="Post Comment", exact=True).click()
    expect(page.locator("mark.townhall-passage")).to_have_text(phrase)
    stored = server.find_comment(lambda c: "Dragged." in c["html"])
    assert stored["passage"]["quote"]["exact"] == phrase


def test_clicking_a_highlight_opens_its_comments_and_escape_closes(page, server):
    widget = open_article(page, server)
    comment_on_selection(page, PHRASE, "Who asked him?")
    page.locator("mark.townhall-passage").first.click()
    inline = page.locator(".townhall-inline")
    expect(inline.locator("blockquote")).to_have_text(PHRASE)
    shown = inline.get_by_role("article", name="Comment by Ada Lovelace", exact=True)
    expect(shown).to_contain_text("Who asked him?")
    # A second comment on the same passage, from the panel.
    inline.get_by_role("textbox", name="Name", exact=True).fill("Grace Hopper")
    inline.get_by_role("textbox", name="What do you think of this passage?", exact=True).fill(
        "The minister did."
    )
    inline.get_by_role("button", name="Post Comment", exact=True).click()
    expect(inline).to_have_count(0)
    stored = server.find_comment(lambda c: "The minister did." in c["html"])
    assert stored["passage"]["quote"]["exact"] == PHRASE
    expect(comment_in(widget, "Grace Hopper")).to_be_visible()
    # Both now open from the highlight; Escape closes the panel.
    page.locator("mark.townhall-passage").first.click()
    expect(inline.get_by_role("article")).to_have_count(2)
    inline.get_by_role("textbox", name="What do you think of this passage?").press("Escape")
    expect(inline).to_have_count(0)


def test_escape_closes_the_inline_composer_and_gives_the_focus_back(page, server):
    open_article(page, server)
    count = page.get_by_role("button", name="0 comments on this passage", exact=True)
    count.click()
    inline = page.locator(".townhall-inline")
    expect(inline).to_have_count(1)
    page.keyboard.press("Escape")
    expect(inline).to_have_count(0)
    expect(count).to_be_focused()


def test_a_passage_gone_from_the_article_leaves_an_orphan_in_the_thread(page, server):
    widget = open_article(page, server)
    gone = "the US, German, British, Qatar and Saudi air forces"
    comment_on_selection(page, gone, "Where is Khmeimim?")
    with urllib.request.urlopen(page.url) as response:  # noqa: S310
        html = response.read().decode()
    paragraph_start = html.index("The Icirlik airbase currently hosts")
    paragraph_end = html.index("</p>", paragraph_start)
    html = html[:paragraph_start] + html[paragraph_end:]
    assert "currently hosts" not in html
    page.route(
        page.url, lambda route: route.fulfill(status=200, content_type="text/html", body=html)
    )
    page.reload()
    widget = wait_for_widget(page)
    mine = comment_in(widget, "Ada Lovelace")
    expect(mine.locator("blockquote")).to_have_text(gone)
    expect(mine).to_contain_text("This passage is no longer in the article.")
    expect(mine.get_by_role("button", name="Show in article")).to_have_count(0)
    expect(page.locator("mark.townhall-passage")).to_have_count(0)
    # Still an ordinary comment: it can be replied to.
    expect(mine.get_by_role("button", name="Reply", exact=True)).to_be_visible()


def test_deleting_a_passage_comment_removes_its_highlight(page, server):
    widget = open_article(page, server)
    comment_on_selection(page, PHRASE, "Never mind.")
    expect(page.locator("mark.townhall-passage")).to_have_count(1)
    mine = comment_in(widget, "Ada Lovelace")
    mine.get_by_role("button", name="Delete", exact=True).click()
    widget.get_by_role("button", name="Yes, delete", exact=True).click()
    expect(page.locator("mark.townhall-passage")).to_have_count(0)
    assert page.evaluate(
        "phrase => document.querySelector('article').textContent.includes(phrase)", PHRASE
    )


def passage_of(exact: str, passage_id: str | None = None) -> dict:
    # A deliberately wrong position: the widget finds the quote where it is.
    return {
        "id": passage_id,
        "quote": {"type": "TextQuoteSelector", "exact": exact, "prefix": "", "suffix": ""},
        "position": {"type": "TextPositionSelector", "start": 0, "end": len(exact)},
    }


def test_counts_and_highlights_cover_comments_beyond_the_loaded_page(page, server):
    marked = "Ankara could let Moscow to use Turkey\u2019s Incirlik airbase"
    far = "A wide range of various terrorist groups"
    server.post_comment(
        "The oldest, on a passage.", author_name="Early Bird", passage=passage_of(far)
    )
    for n in range(22):
        server.post_comment(
            f"On the marked passage {n}", passage=passage_of(marked, "incirlik-offer")
        )
    for n in range(3):
        server.post_comment(f"Plain {n}")
    widget = open_article(page, server)
    # The first page holds 20 of the 26 top-level comments; the count is the thread's.
    expect(
        page.get_by_role("button", name="22 comments on this passage", exact=True)
    ).to_be_visible()
    expect(comment_in(widget, "Early Bird")).to_have_count(0)
    far_mark = page.locator("mark.townhall-passage", has_text=far)
    expect(far_mark).to_have_count(1)
    far_mark.click()
    inline = page.locator(".townhall-inline")
    expect(inline.get_by_role("article", name="Comment by Early Bird")).to_be_visible()
    inline.get_by_role("button", name="Show in discussion").click()
    early = comment_in(widget, "Early Bird")
    expect(early).to_be_in_viewport()
    expect(widget.get_by_role("button", name="Inline Feedbacks", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    # The Inline Feedbacks view paged on until the comment was there: passage comments only.
    expect(widget.get_by_role("article", name=re.compile("^Comment by"))).to_have_count(23)
    expect(widget.get_by_text(re.compile("^Plain")).filter(visible=True)).to_have_count(0)
    widget.get_by_role("button", name="View all comments", exact=True).click()
    expect(
        widget.get_by_role("list", name=re.compile("Comments")).get_by_text("Plain 2")
    ).to_be_visible()


def test_another_readers_passage_comment_is_highlighted_live(page, server):
    open_article(page, server)
    expect(
        page.get_by_role("button", name="0 comments on this passage", exact=True)
    ).to_be_visible()
    far = "A wide range of various terrorist groups"
    server.post_comment("Live, on a passage.", passage=passage_of(far))
    server.post_comment(
        "Live, on the marked one.",
        passage=passage_of(
            "Ankara could let Moscow to use Turkey\u2019s Incirlik airbase", "incirlik-offer"
        ),
    )
    expect(page.locator("mark.townhall-passage", has_text=far)).to_have_count(1)
    expect(page.get_by_role("button", name="1 comment on this passage", exact=True)).to_be_visible()
