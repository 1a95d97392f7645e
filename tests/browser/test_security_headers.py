"""The Content-Security-Policy of the demo page and the moderators' pages holds in Chromium:
everything they load, the widget with its lazily loaded parts, its Shadow DOM styles, the live
stream and the demo's sign-in, works with no violation (which Chromium also logs as a console
error, failing any browser test)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.support import Server, open_article
from tests.browser.test_moderation_queue import log_in, moderator  # noqa: F401 (fixture)

RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.effectiveDirective} ${event.blockedURI} ${event.sample}`);
}, true);
"""


def violations(page: Page) -> list[str]:
    return page.evaluate("() => window.__violations")


def test_demo_page_works_under_its_policy(page: Page, server: Server) -> None:
    page.add_init_script(RECORD_VIOLATIONS)
    widget = open_article(page, server)
    policy = page.evaluate(
        "async () => (await fetch(location.href)).headers.get('content-security-policy')"
    )
    assert "script-src 'self';" in policy and "'unsafe-inline'" not in policy
    # The lazily loaded parts: passage buttons (anchoring), the goal bar taken over (support).
    expect(page.locator("button[data-townhall-ui]").first).to_be_visible()
    expect(page.locator("[data-townhall-support]").first).to_be_attached()
    # The demo's login (its script is a file) signs in through the widget's account module.
    page.get_by_label("Sign in to SouthFront as").fill("Casey Reader")
    page.locator("#publisher-login").get_by_role("button", name="Sign in").click()
    expect(page.locator("#publisher-status")).to_have_text("Signed in as Casey Reader.")
    expect(widget.get_by_text("Commenting as Casey Reader", exact=True).first).to_be_visible()
    assert violations(page) == []


def test_moderation_pages_work_under_their_policy(
    page: Page,
    server: Server,
    moderator: str,  # noqa: F811
) -> None:
    page.add_init_script(RECORD_VIOLATIONS)
    log_in(page, server)
    assert violations(page) == []
    for path in ("/moderate/demo/search/?q=lie", "/moderate/demo/rules/", "/moderate/demo/log/"):
        page.goto(server.url(path))
        expect(page.locator("main")).to_be_visible()
        assert violations(page) == [], path
    page.goto(server.url("/moderate/demo/"))
    page.keyboard.press("?")
    assert violations(page) == []
