"""The embed widget showing a thread: count, comments and replies, sorting, paging, the
invitation bubble and the page's theme. The widget is the one on the demo article page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.support import (
    comment_box,
    comment_in,
    count_heading,
    embed_page,
    has_deep_focus,
    open_article,
    top_level_texts,
    wait_for_widget,
)

pytestmark = pytest.mark.usefixtures("widget_available")

C1 = "Now that seems like real Turkish move"  # oldest top-level seed comment, Ted Zah replies
C3 = "The turkeys now betraying their NATO partners"  # newest top-level seed comment
TED = "Another turkish bazaar"
BUBBLE = "Would love your thoughts, please comment."
# Different enough that the moderation pipeline does not hold them as the same text again.
REPLY_TEXTS = [
    "Incirlik has hosted NATO aircraft since the fifties.",
    "Sochi talks in July changed the tone between the two capitals.",
    "Khmeimim is far closer to the front lines anyway.",
    "Would the German contingent stay if that happened?",
    "Only the Bundestag could answer that, and it has not.",
]


def test_heading_counts_the_comments(page, server):
    widget = open_article(page, server)
    expect(count_heading(widget, 3)).to_be_visible()


def test_heading_is_singular_for_one_comment(page, server):
    other_article = server.url("/2016/07/another-article/")
    server.post_comment("The only comment.", url=other_article, author_name="Solo")
    page.goto(embed_page(page, server, article_url=other_article))
    widget = wait_for_widget(page)
    expect(count_heading(widget, 1)).to_be_visible()
    expect(comment_in(widget, "Solo")).to_contain_text("The only comment.")


def test_comments_show_author_body_votes_and_reply_with_replies_nested(page, server):
    widget = open_article(page, server)
    expect(widget.get_by_role("article", name="Comment by Anonymous", exact=True)).to_have_count(2)
    ted = comment_in(widget, "Ted Zah")
    expect(ted).to_have_count(1)
    expect(ted).to_contain_text("Ted Zah")
    expect(ted).to_contain_text(TED)
    for name in ("Upvote", "Downvote"):
        button = ted.get_by_role("button", name=name, exact=True)
        expect(button).to_be_visible()
        expect(button).to_have_attribute("aria-pressed", "false")
    expect(ted.get_by_role("button", name="Reply", exact=True)).to_be_visible()
    # A score or counts text: the seed comments have no votes.
    assert re.search(r"(^|\D)0(\D|$)", ted.inner_text()), ted.inner_text()
    # Ted Zah answers the oldest comment: his comment is inside that comment's element.
    parent = widget.get_by_role("article", name="Comment by Anonymous", exact=True).filter(
        has_text=C1
    )
    expect(parent.get_by_role("article", name="Comment by Ted Zah", exact=True)).to_have_count(1)
    other = widget.get_by_role("article", name="Comment by Anonymous", exact=True).filter(
        has_text=C3
    )
    expect(other.get_by_role("article")).to_have_count(0)
    # Seed comments were not written from this browser: nobody may edit them here.
    expect(ted.get_by_role("button", name="Edit", exact=True)).to_have_count(0)
    expect(ted.get_by_role("button", name="Delete", exact=True)).to_have_count(0)


def test_more_replies_load_under_their_root_in_place(page, server):
    root = server.find_comment(lambda c: c["html"].startswith(f"<p>{C1}"))
    replies = [c["id"] for c in root["replies"]]  # Ted Zah's
    for n, text in zip(range(2, 7), REPLY_TEXTS, strict=True):
        parent = replies[-2] if n == 6 else root["id"]  # the last answers the 4th reply
        posted = server.post_comment(text, parent_id=parent, author_name=f"R{n}")
        assert posted["comment"]["status"] == "visible"
        replies.append(posted["comment"]["id"])
    widget = open_article(page, server)
    # The page holds the root's first three replies, and a button for the other three.
    expect(comment_in(widget, "R3")).to_contain_text(REPLY_TEXTS[1])
    expect(comment_in(widget, "R4")).to_have_count(0)
    more = widget.get_by_role("button", name="Show 3 more replies", exact=True)
    more.click()
    expect(more).to_have_count(0)
    for n in (4, 5, 6):
        expect(comment_in(widget, f"R{n}")).to_contain_text(REPLY_TEXTS[n - 2])
    # The reply to the 4th reply is inside it, and the focus is on the first reply loaded.
    expect(comment_in(widget, "R4").get_by_role("article", name="Comment by R6")).to_have_count(1)
    assert has_deep_focus(comment_in(widget, "R4"))
    parent = widget.get_by_role("article", name="Comment by Anonymous", exact=True).filter(
        has_text=C1
    )
    expect(parent.get_by_role("article")).to_have_count(6)


def test_a_link_to_a_reply_the_page_left_out_shows_it(page, server):
    root = server.find_comment(lambda c: c["html"].startswith(f"<p>{C1}"))
    posted = []
    for n, text in zip(range(2, 7), REPLY_TEXTS, strict=True):
        posted.append(server.post_comment(text, parent_id=root["id"], author_name=f"R{n}"))
    last = posted[-1]["comment"]["id"]
    page.goto(embed_page(page, server) + f"#comment-{last}")
    widget = wait_for_widget(page)
    target = comment_in(widget, "R6")
    expect(target).to_contain_text(REPLY_TEXTS[-1])
    expect(target).to_have_class(re.compile(r"\btarget\b"))
    assert has_deep_focus(target)
    # Every reply of that comment is there now, and no button for more.
    for n in range(2, 7):
        expect(comment_in(widget, f"R{n}")).to_have_count(1)
    expect(widget.get_by_role("button", name=re.compile(r"more repl"))).to_have_count(0)


def _pressed(widget):
    group = widget.get_by_role("group", name="Sort comments")
    return {
        name: group.get_by_role("button", name=name, exact=True).get_attribute("aria-pressed")
        for name in ("Newest", "Oldest", "Most Voted")
    }


def test_sort_orders_are_buttons_and_the_choice_is_remembered(page, server):
    seed = {c["html"]: c for c in server.thread()["comments"]}
    c1 = next(c for html, c in seed.items() if C1 in html)
    server.request("POST", f"/api/v1/comments/{c1['id']}/vote", {"value": 1})

    widget = open_article(page, server)
    group = widget.get_by_role("group", name="Sort comments")
    expect(group.get_by_role("button")).to_have_count(3)
    assert _pressed(widget) == {"Newest": "true", "Oldest": "false", "Most Voted": "false"}
    first = widget.get_by_role("article").first
    expect(first).to_contain_text(C3)

    group.get_by_role("button", name="Oldest", exact=True).click()
    expect(group.get_by_role("button", name="Oldest", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(first).to_contain_text(C1)
    assert _pressed(widget) == {"Newest": "false", "Oldest": "true", "Most Voted": "false"}

    group.get_by_role("button", name="Most Voted", exact=True).click()
    expect(group.get_by_role("button", name="Most Voted", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(first).to_contain_text(C1)  # one upvote puts the older comment first
    assert _pressed(widget) == {"Newest": "false", "Oldest": "false", "Most Voted": "true"}

    group.get_by_role("button", name="Oldest", exact=True).click()
    expect(group.get_by_role("button", name="Oldest", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    page.reload()
    widget = wait_for_widget(page)
    expect(widget.get_by_role("article").first).to_contain_text(C1)
    assert _pressed(widget) == {"Newest": "false", "Oldest": "true", "Most Voted": "false"}
    texts = top_level_texts(widget)
    assert C1 in texts[0] and C3 in texts[1], texts


def test_load_more_comments_pages_the_top_level_comments(page, server):
    for n in range(1, 26):
        server.post_comment(f"Bulk comment number {n}.", author_name=f"Reader {n}")
    widget = open_article(page, server)
    expect(count_heading(widget, 28)).to_be_visible()
    articles = widget.get_by_role("article")
    expect(articles).to_have_count(20)  # the newest 20 top-level comments, no replies among them
    expect(articles.first).to_contain_text("Bulk comment number 25.")
    more = widget.get_by_role("button", name="Load more comments")
    expect(more).to_be_visible()
    more.click()
    expect(articles).to_have_count(28)  # 25 + 2 seed top-level comments + Ted Zah's reply
    expect(more).to_be_hidden()
    texts = top_level_texts(widget)
    assert len(texts) == 27
    assert "Bulk comment number 25." in texts[0] and "Bulk comment number 1." in texts[24]
    assert C3 in texts[25] and C1 in texts[26], texts[-3:]


def test_bubble_invites_on_the_first_visit_and_focuses_the_comment_box(page, server):
    widget = open_article(page, server)
    invitation = widget.get_by_text(BUBBLE, exact=True)
    expect(invitation).to_be_visible()
    expect(widget.get_by_role("button", name="Close", exact=True)).to_be_visible()
    invitation.click()
    box = comment_box(widget)
    page.wait_for_function(
        """() => {
            let a = document.activeElement;
            while (a && a.shadowRoot && a.shadowRoot.activeElement) a = a.shadowRoot.activeElement;
            return a && a.tagName === "TEXTAREA";
        }"""
    )
    assert has_deep_focus(box)
    page.reload()
    widget = wait_for_widget(page)
    page.wait_for_timeout(300)  # the bubble comes after the thread; give it its chance
    expect(widget.get_by_text(BUBBLE, exact=True)).to_have_count(0)


def test_bubble_closes_and_stays_closed(page, server):
    widget = open_article(page, server)
    expect(widget.get_by_text(BUBBLE, exact=True)).to_be_visible()
    widget.get_by_role("button", name="Close", exact=True).click()
    expect(widget.get_by_text(BUBBLE, exact=True)).to_have_count(0)
    page.reload()
    widget = wait_for_widget(page)
    page.wait_for_timeout(300)
    expect(widget.get_by_text(BUBBLE, exact=True)).to_have_count(0)


def test_bubble_comes_back_after_seven_days(page, server):
    now = datetime.now(UTC)
    widget = open_article(page, server)
    expect(widget.get_by_text(BUBBLE, exact=True)).to_be_visible()
    page.clock.set_fixed_time(now + timedelta(days=6, hours=23))
    page.reload()
    widget = wait_for_widget(page)
    page.wait_for_timeout(300)
    expect(widget.get_by_text(BUBBLE, exact=True)).to_have_count(0)
    page.clock.set_fixed_time(now + timedelta(days=7, hours=1))
    page.reload()
    widget = wait_for_widget(page)
    expect(widget.get_by_text(BUBBLE, exact=True)).to_be_visible()


def _contrast(page, locator) -> float:
    """WCAG contrast of the element's text color against the page's #111 background."""
    return locator.evaluate(
        """el => {
            const rgb = getComputedStyle(el).color.match(/[\\d.]+/g).slice(0, 3).map(Number);
            const lum = ([r, g, b]) => [r, g, b].map(v => {
                v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
            }).reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
            const a = lum(rgb), b = lum([17, 17, 17]);
            return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
        }"""
    )


def test_widget_takes_a_dark_theme_on_a_dark_page(page, server):
    url = embed_page(
        page, server, path="/some-dark-page.html", style="body { background: #111; color: #eee; }"
    )
    page.goto(url)
    widget = wait_for_widget(page)
    expect(count_heading(widget, 3)).to_be_visible()
    expect(widget).to_have_attribute("data-theme", "dark")
    # Dark theme means light text: the heading and a comment body stay readable on #111.
    heading = count_heading(widget, 3)
    body = comment_in(widget, "Ted Zah").get_by_text(TED)
    assert _contrast(page, heading) >= 4.5
    assert _contrast(page, body) >= 4.5


def test_widget_is_not_dark_on_the_light_demo_page(page, server):
    widget = open_article(page, server)
    assert widget.get_attribute("data-theme") != "dark"
