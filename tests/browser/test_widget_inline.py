"""Inline feedbacks: comments on a passage of the article, re-anchored when its text changes."""

from __future__ import annotations

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
