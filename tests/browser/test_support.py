"""Reader support in a real browser: the demo article's goal bar and Support buttons.

The demo page renders the campaign's goal bar on the server (townhall.support.html) and the
widget's support.js takes it over where it stands; the demo campaign (`southfront`: 3,048 $
raised of 5,000 $, as on the seed page) has the test checkout, which records a settled test
contribution without any payment provider and comes back to the article.

The goal bar's look is guarded by a committed baseline screenshot, and a second image puts it
beside the seed page's figures (the seed page is text only: they are set in a small page of
their own); UPDATE_SNAPSHOTS=1 writes both anew (review them, commit them).
"""

from __future__ import annotations

import base64
import html
import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.support import (
    ARTICLE_PATH,
    comment_box,
    comment_in,
    compare_images,
    diff_image,
    has_deep_focus,
    main_form,
    open_article,
    wait_for_widget,
)
from townhall.demo.seed import seed_article

pytestmark = pytest.mark.usefixtures("widget_available")

BASELINES = Path(__file__).parent / "baselines"
MAX_DIFFERING = 0.02
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"
TITLE = "Support SouthFront"
CHECKOUT = "**/api/v1/campaigns/demo/southfront/checkout"


def goal_bar(page: Page) -> Locator:
    """The campaign element at the top of the demo page, once support.js has taken it over
    (its Support link is then a button)."""
    bar = page.locator("main > [data-townhall-campaign]")
    expect(bar.get_by_role("button", name=TITLE, exact=True)).to_be_visible()
    return bar


def ticks(bar: Locator) -> list[str]:
    return [
        text.replace("\xa0", " ")
        for text in bar.locator(".townhall-campaign__tick").all_inner_texts()
    ]


def raised_line(bar: Locator) -> str:
    return bar.locator(".townhall-campaign__raised").inner_text().replace("\xa0", " ")


def open_demo(page: Page, server, path: str = "/") -> tuple[Locator, Locator]:
    widget = open_article(page, server, path)
    return widget, goal_bar(page)


def give(page: Page, bar: Locator, amount: str | None = None, badge: bool = False) -> None:
    """Support → an amount → (the badge) → the test checkout → Pay → back on the article."""
    bar.get_by_role("button", name=TITLE, exact=True).click()
    form = bar.get_by_role("form", name=TITLE)
    expect(form).to_be_visible()
    if amount:
        form.get_by_role("radio", name=amount, exact=True).check()
    if badge:
        form.get_by_role("checkbox", name="Show a supporter badge on my comments").check()
    form.get_by_role("button", name="Continue to checkout").click()
    page.wait_for_url(re.compile(r"/support/test-checkout/"))
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    if badge:
        expect(page.get_by_text("with the supporter badge on your comments")).to_be_visible()
    page.get_by_role("button", name="Pay (test mode)").click()
    page.wait_for_url(re.compile(r"/ankara-could-let-russia"))


# ---- the bar ---------------------------------------------------------------------------------


def test_the_demo_page_shows_the_bar_with_the_seed_figures_and_two_support_buttons(page, server):
    _, bar = open_demo(page, server)
    assert ticks(bar) == ["0 $", "2,500 $", "5,000 $"]
    assert raised_line(bar) == "Raised: 3,048 $"
    fill = bar.locator(".townhall-campaign__fill").evaluate("e => e.style.width")
    assert fill == "60.96%"
    # Both of the seed page's "Support SouthFront" are buttons now, each opening its own form.
    buttons = page.get_by_role("button", name=TITLE, exact=True)
    expect(buttons).to_have_count(2)
    expect(buttons.first).to_have_attribute("aria-expanded", "false")
    buttons.last.click()
    expect(buttons.last).to_have_attribute("aria-expanded", "true")
    expect(buttons.first).to_have_attribute("aria-expanded", "false")
    expect(page.get_by_role("form", name=TITLE)).to_have_count(1)


def test_the_progress_bar_has_its_accessible_values(page, server):
    _, bar = open_demo(page, server)
    progress = bar.get_by_role("progressbar", name="Raised toward the goal of 5,000 $")
    expect(progress).to_have_attribute("aria-valuemin", "0")
    expect(progress).to_have_attribute("aria-valuemax", "5000")
    expect(progress).to_have_attribute("aria-valuenow", "3048")
    expect(progress).to_have_attribute("aria-valuetext", "3,048 $ raised of 5,000 $")
    # What the browser hands to assistive technology.
    snapshot = page.locator("main > [data-townhall-campaign]").aria_snapshot()
    assert 'progressbar "Raised toward the goal of 5,000 $"' in snapshot
    assert f'button "{TITLE}"' in snapshot


def test_without_javascript_the_server_rendered_bar_and_a_support_link_show(browser, server):
    context = browser.new_context(java_script_enabled=False, locale="en-US")
    try:
        page = context.new_page()
        page.goto(server.url("/"))
        bar = page.locator("main > [data-townhall-campaign]")
        assert ticks(bar) == ["0 $", "2,500 $", "5,000 $"]
        assert raised_line(bar) == "Raised: 3,048 $"
        expect(bar.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "3048")
        links = page.get_by_role("link", name=TITLE, exact=True)
        expect(links).to_have_count(2)
        for link in links.all():
            assert "/support/demo/southfront/" in (link.get_attribute("href") or "")
    finally:
        context.close()


def test_taking_the_bar_over_moves_nothing_on_the_page(page, server, browser_errors):
    browser_errors.expect(r"goal bar could not load|net::ERR_FAILED|Failed to load resource")
    page.route(re.compile(r"/embed-support\.[0-9a-f]+\.js$"), lambda route: route.abort())
    open_article(page, server)
    expect(page.get_by_role("link", name=TITLE, exact=True)).to_have_count(2)
    before = page.locator("main > [data-townhall-campaign]").bounding_box()
    heading = page.get_by_role("heading", level=1).bounding_box()
    page.unroute(re.compile(r"/embed-support\.[0-9a-f]+\.js$"))
    page.reload()
    bar = goal_bar(page)
    after = bar.bounding_box()
    assert before and after and heading
    assert abs(after["height"] - before["height"]) <= 1, (before, after)
    assert abs(page.get_by_role("heading", level=1).bounding_box()["y"] - heading["y"]) <= 1


def test_a_german_page_writes_the_amounts_in_german(page, server):
    page.goto(server.url(ARTICLE_PATH + "?lang=de"))
    bar = goal_bar(page)
    assert ticks(bar) == ["0 $", "2.500 $", "5.000 $"]
    assert raised_line(bar) == "Gesammelt: 3.048 $"
    progress = bar.get_by_role("progressbar")
    expect(progress).to_have_attribute("aria-valuenow", "3048")
    expect(progress).to_have_attribute("aria-valuetext", re.compile(r"^3\.048\s\$ von 5\.000\s\$"))
    bar.get_by_role("button", name=TITLE, exact=True).click()
    form = bar.get_by_role("form", name=TITLE)
    expect(form.get_by_role("group", name="Betrag")).to_be_visible()
    expect(form.get_by_role("radio", name="10 $", exact=True)).to_be_checked()
    expect(form.get_by_role("button", name="Weiter zur Zahlung")).to_be_visible()


def test_without_a_server_rendered_bar_the_element_gets_one_drawn_in_intl_format(page, server):
    """A publisher's page with an empty element: the bar drawn in a shadow root, amounts as
    the locale writes money ($ first in English), the button with its default label."""
    url = server.url("/campaign-page.html")
    markup = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Give</title></head><body><div data-townhall-campaign="southfront"></div>
<script src="{server.base_url}/embed.js" data-site="demo" async></script></body></html>"""
    page.route(url, lambda route: route.fulfill(status=200, content_type="text/html", body=markup))
    page.goto(url)
    host = page.locator("[data-townhall-campaign]")
    progress = host.get_by_role("progressbar", name="Raised toward the goal of $5,000")
    expect(progress).to_have_attribute("aria-valuenow", "3048")
    expect(progress).to_have_attribute("aria-valuetext", "$3,048 raised of $5,000")
    expect(host.locator(".ticks span")).to_have_text(["$0", "$2,500", "$5,000"])
    expect(host.locator(".raised")).to_have_text("Raised: $3,048")
    expect(host.get_by_role("button", name="Support", exact=True)).to_be_visible()
    assert host.evaluate("e => !!e.shadowRoot && e.dataset.theme") == "light"


# ---- the Support button ----------------------------------------------------------------------


def test_support_goes_through_the_test_checkout_and_the_bar_shows_the_new_total(page, server):
    _, bar = open_demo(page, server)
    give(page, bar, amount="25 $")
    bar = goal_bar(page)
    assert raised_line(bar) == "Raised: 3,073 $"
    expect(bar.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "3073")
    page.reload()
    bar = goal_bar(page)
    assert raised_line(bar) == "Raised: 3,073 $"
    campaign = server.request("GET", "/api/v1/campaigns/demo/southfront")
    assert campaign["raised"] == 307300


def test_another_amount_is_checked_before_the_checkout(page, server):
    _, bar = open_demo(page, server)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/checkout" in r.url else None)
    bar.get_by_role("button", name=TITLE, exact=True).click()
    form = bar.get_by_role("form", name=TITLE)
    other = form.get_by_role("textbox", name="Other amount")
    other.fill("0.50")
    expect(form.get_by_role("radio", name="10 $", exact=True)).not_to_be_checked()
    form.get_by_role("button", name="Continue to checkout").click()
    expect(bar.get_by_role("alert")).to_have_text("Please enter an amount of at least 1 $.")
    expect(other).to_have_attribute("aria-invalid", "true")
    assert requests == []
    sent: list[dict] = []

    def answer(route):
        sent.append(route.request.post_data_json)
        route.fulfill(status=200, content_type="application/json", body='{"url": "#given"}')

    page.route(CHECKOUT, answer)
    other.fill("12.5")
    form.get_by_role("button", name="Continue to checkout").click()
    page.wait_for_url(re.compile(r"#given$"))
    assert len(sent) == 1
    assert sent[0]["amount"] == 1250 and sent[0]["show_badge"] is False
    assert sent[0]["return_url"] == page.url.removesuffix("#given")


def test_a_checkout_error_shows_in_an_alert(page, server, browser_errors):
    browser_errors.expect(r"Failed to load resource: .* 409")
    _, bar = open_demo(page, server)
    page.route(
        CHECKOUT,
        lambda route: route.fulfill(
            status=409,
            content_type="application/json",
            headers={"Access-Control-Allow-Origin": "*"},
            body='{"error": {"code": "checkout_unavailable",'
            ' "message": "This campaign takes no contributions now."}}',
        ),
    )
    bar.get_by_role("button", name=TITLE, exact=True).click()
    form = bar.get_by_role("form", name=TITLE)
    form.get_by_role("button", name="Continue to checkout").click()
    expect(bar.get_by_role("alert")).to_have_text("This campaign takes no contributions now.")
    expect(form.get_by_role("button", name="Continue to checkout")).to_be_enabled()
    assert "/ankara-could-let-russia" in page.url


def test_the_support_form_works_from_the_keyboard(page, server):
    _, bar = open_demo(page, server)
    button = bar.get_by_role("button", name=TITLE, exact=True)
    button.focus()
    page.keyboard.press("Enter")
    form = bar.get_by_role("form", name=TITLE)
    ten = form.get_by_role("radio", name="10 $", exact=True)
    expect(ten).to_be_checked()
    assert has_deep_focus(ten)
    page.keyboard.press("ArrowRight")
    expect(form.get_by_role("radio", name="25 $", exact=True)).to_be_checked()
    page.keyboard.press("Escape")
    expect(form).to_be_hidden()
    expect(button).to_have_attribute("aria-expanded", "false")
    assert has_deep_focus(button)
    page.keyboard.press(" ")
    expect(form).to_be_visible()


# ---- the discussion: the badge and the prompt ------------------------------------------------


def post(widget: Locator, name: str, body: str) -> Locator:
    form = main_form(widget)
    form.get_by_role("textbox", name="Name", exact=True).fill(name)
    comment_box(widget).fill(body)
    form.get_by_role("button", name="Post Comment", exact=True).click()
    mine = comment_in(widget, name).filter(has_text=body)
    expect(mine).to_have_count(1)
    return mine


def test_a_reader_who_gave_with_the_badge_shows_it_on_their_comments(page, server):
    widget, bar = open_demo(page, server)
    post(widget, "Sam Supporter", "I read SouthFront every day.")
    expect(comment_in(widget, "Sam Supporter").locator(".supporter")).to_have_count(0)
    give(page, bar, badge=True)
    widget = wait_for_widget(page)
    mine = comment_in(widget, "Sam Supporter")
    expect(mine.locator(".meta .supporter")).to_have_text("Supporter")
    expect(comment_in(widget, "Ted Zah").locator(".supporter")).to_have_count(0)


def test_a_reader_without_the_badge_box_ticked_gets_none(page, server):
    widget, bar = open_demo(page, server)
    post(widget, "Quiet Giver", "Thanks for the article.")
    give(page, bar)
    widget = wait_for_widget(page)
    expect(comment_in(widget, "Quiet Giver")).to_be_visible()
    expect(comment_in(widget, "Quiet Giver").locator(".supporter")).to_have_count(0)


def test_after_a_post_the_reader_is_asked_once_for_support(page, server):
    widget, _ = open_demo(page, server)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "prompt=true" in r.url else None)
    post(widget, "Ada Lovelace", "A first thought.")
    prompt = widget.get_by_role("region", name=TITLE)
    expect(prompt).to_contain_text("Thank you for joining the discussion!")
    expect(prompt).to_contain_text("3,048 $ of 5,000 $ raised")
    # Under the form, and the focus stays where it was.
    assert prompt.evaluate("e => e.previousElementSibling.matches('form.composer')")
    support = prompt.get_by_role("button", name="Support", exact=True)
    support.click()
    expect(prompt.get_by_role("form", name=TITLE)).to_be_visible()
    expect(
        prompt.get_by_role("checkbox", name="Show a supporter badge on my comments")
    ).not_to_be_checked()
    prompt.get_by_role("button", name="No, thanks").click()
    expect(prompt).to_have_count(0)
    assert has_deep_focus(comment_box(widget))
    post(widget, "Ada Lovelace", "A second thought.")
    page.wait_for_timeout(300)
    expect(widget.get_by_role("region", name=TITLE)).to_have_count(0)
    assert len(asked) == 1


# ---- screenshots -----------------------------------------------------------------------------


def check_baseline(name: str, shot: bytes, tmp_path: Path) -> None:
    baseline = BASELINES / name
    if UPDATE or not baseline.exists():
        BASELINES.mkdir(exist_ok=True)
        baseline.write_bytes(shot)
        if not UPDATE:
            pytest.fail(f"No baseline yet; wrote {baseline}: review it, commit it, run again.")
        return
    difference = compare_images(baseline, shot)
    if difference.size_matches and difference.fraction <= MAX_DIFFERING:
        return
    actual = tmp_path / name.replace(".png", ".actual.png")
    actual.write_bytes(shot)
    diff = tmp_path / name.replace(".png", ".diff.png")
    diff_image(baseline, shot).save(diff)
    what = (
        f"{difference.fraction:.2%} of the pixels differ (at most {MAX_DIFFERING:.0%})"
        if difference.size_matches
        else "its size changed"
    )
    pytest.fail(
        f"The rendering no longer looks like {baseline.name}: {what}.\n"
        f"New rendering: {actual}\nDifferences in red: {diff}\n"
        "If the change is intended: UPDATE_SNAPSHOTS=1 make test, review, commit the baseline.",
        pytrace=False,
    )


def bar_screenshot(page: Page, server) -> tuple[bytes, Locator]:
    _, bar = open_demo(page, server)
    page.mouse.move(0, 0)
    page.evaluate("document.fonts.ready")
    return bar.screenshot(animations="disabled", caret="hide"), bar


def test_the_goal_bar_matches_its_baseline(page, server, tmp_path):
    shot, _ = bar_screenshot(page, server)
    check_baseline("support-goal-bar.png", shot, tmp_path)


def test_the_goal_bar_beside_the_seed_pages_figures(page, server, tmp_path):
    """The seed page's goal bar is only text: "0 $ 2,500 $ 5,000 $ 3,048 $". Ours must show the
    same figures; the image puts the seed's text beside our bar, for people to compare."""
    seed = seed_article()
    shot, bar = bar_screenshot(page, server)
    assert ticks(bar) == seed["goal_ticks"]
    assert raised_line(bar) == f"Raised: {seed['raised']}"
    width = round(bar.bounding_box()["width"])
    image = base64.b64encode(shot).decode()
    # A document of its own: written into the demo page, it would be under that page's CSP.
    page.goto("about:blank")
    seed_lines = "".join(
        f"<li>{html.escape(text)}</li>" for text in [*seed["goal_ticks"], seed["raised"]]
    )
    page.set_content(
        f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><style>
body {{ margin: 0; font: 14px/1.4 system-ui, sans-serif; background: #fff; color: #222; }}
#pair {{ display: inline-flex; gap: 24px; padding: 16px; align-items: flex-start; }}
figure {{ margin: 0; }}
figcaption {{ font-weight: 700; margin-bottom: 8px; }}
ul {{ margin: 0; padding: 12px 16px; list-style: none; border: 1px dashed #999; width: 10rem; }}
</style></head><body><div id="pair">
<figure><figcaption>Seed page (text)</figcaption><ul>{seed_lines}</ul></figure>
<figure><figcaption>Townhall demo</figcaption>
<img alt="" width="{width}" src="data:image/png;base64,{image}"></figure>
</div></body></html>"""
    )
    page.evaluate("document.fonts.ready")
    pair = page.locator("#pair").screenshot(animations="disabled")
    check_baseline("support-goal-bar-vs-seed.png", pair, tmp_path)
