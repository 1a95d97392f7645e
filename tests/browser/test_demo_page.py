"""The demo site in a real browser: the seed article and its discussion."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.support import ARTICLE_PATH

HEADLINE = "Ankara Could Let Russia Use Turkey\u2019s Incirlik Airbase to Fight ISIS"


def test_home_redirects_to_the_seed_article_with_its_comments(page, server):
    response = page.goto(server.url("/"))
    assert response is not None and response.ok
    assert page.url == server.url(ARTICLE_PATH)
    expect(page.get_by_role("heading", level=1)).to_have_text(HEADLINE)
    expect(page.get_by_text("Ted Zah", exact=True).locator("visible=true")).to_have_count(1)


def test_no_template_syntax_leaks_into_the_demo_page(page, server):
    page.goto(server.url("/"))
    text = page.locator("body").inner_text()
    for marker in ("{#", "#}", "{%", "{{"):
        assert marker not in text, (
            f"{marker!r} shows on the page: {text[text.find(marker) :][:120]!r}"
        )
