"""The embed widget under stress: a failing API, keyboard-only use, hostile comments, and a
publisher page on another origin."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.support import (
    comment_box,
    comment_in,
    count_heading,
    deep_focus_description,
    embed_page,
    has_deep_focus,
    main_form,
    open_article,
    wait_for_widget,
)

pytestmark = pytest.mark.usefixtures("widget_available")

THREADS = re.compile(r"/api/v1/threads\?")  # the JSON thread read, not /threads/html


@pytest.mark.parametrize("failure", ["http-500", "network"])
def test_a_failing_api_shows_an_alert_and_retry_reloads_the_thread(
    page, server, browser_errors, failure
):
    # Chromium itself logs the failed request to the console; that is the point of this test.
    browser_errors.expect(r"Failed to load resource|net::ERR_FAILED")

    def fail(route):
        if failure == "http-500":
            route.fulfill(status=500, content_type="text/plain", body="Internal Server Error")
        else:
            route.abort("failed")

    page.route(THREADS, fail)
    page.goto(server.url("/"))
    widget = page.locator("#townhall")
    alert = widget.get_by_role("alert").filter(has=page.get_by_role("button", name="Retry"))
    expect(alert).to_be_visible()
    message = alert.inner_text().replace("Retry", "").strip()
    assert len(message) >= 15, f"not a readable message: {message!r}"
    assert not re.search(r"undefined|null|\[object|Error:|500|<", message), message
    expect(count_heading(widget, 3)).to_have_count(0)

    page.unroute(THREADS)
    alert.get_by_role("button", name="Retry").click()
    expect(count_heading(widget, 3)).to_be_visible()
    expect(comment_in(widget, "Ted Zah")).to_be_visible()
    expect(widget.get_by_role("alert").filter(has_text=message)).to_have_count(0)


def _tab_until(page, target, limit: int) -> list[str]:
    """Presses Tab until ``target`` has the focus; returns the stops on the way."""
    stops = []
    for _ in range(limit):
        if has_deep_focus(target):
            return stops
        page.keyboard.press("Tab")
        stops.append(deep_focus_description(page))
    assert has_deep_focus(target), f"Tab never reached it; the focus went: {stops}"
    return stops


def _focus_ring(locator) -> dict:
    return locator.evaluate(
        """el => {
            const s = getComputedStyle(el);
            return {focusVisible: el.matches(":focus-visible"), outlineStyle: s.outlineStyle,
                    outlineWidth: parseFloat(s.outlineWidth), boxShadow: s.boxShadow};
        }"""
    )


def _ring_is_visible(ring: dict) -> bool:
    outline = ring["outlineStyle"] != "none" and ring["outlineWidth"] > 0
    return ring["focusVisible"] and (outline or ring["boxShadow"] not in ("", "none"))


def test_a_comment_can_be_written_and_posted_with_the_keyboard_alone(page, server):
    widget = open_article(page, server)
    box = comment_box(widget)
    _tab_until(page, box, limit=40)
    ring = _focus_ring(box)
    assert _ring_is_visible(ring), f"no visible focus style on the Comment box: {ring}"
    page.keyboard.type("Typed without a mouse.")
    post = main_form(widget).get_by_role("button", name="Post Comment", exact=True)
    stops = _tab_until(page, post, limit=6)
    assert all("Post Comment" not in stop for stop in stops[:-1]), stops
    ring = _focus_ring(post)
    assert _ring_is_visible(ring), f"no visible focus style on Post Comment: {ring}"
    page.keyboard.press("Enter")
    expect(widget.get_by_role("article").filter(has_text="Typed without a mouse.")).to_have_count(1)
    expect(count_heading(widget, 4)).to_be_visible()


HOSTILE_BODY = (
    "Look: <img src=x onerror=alert(1)> and [x](javascript:alert(1)) "
    'and <script>alert(3)</script> and <a href="javascript:alert(4)">y</a>'
)
HOSTILE_NAME = "<img src=y onerror=alert(2)>"


def _dangerous_elements(page) -> dict:
    return page.evaluate(
        """() => {
            const root = document.getElementById("townhall").shadowRoot;
            const all = [...root.querySelectorAll("*")];
            return {
                img: root.querySelectorAll("img").length,
                script: root.querySelectorAll("script").length,
                javascriptHrefs: all.filter(
                    e => /^\\s*javascript:/i.test(e.getAttribute("href") || "")).length,
                handlers: all.filter(e => [...e.attributes].some(a => /^on/i.test(a.name))).length,
            };
        }"""
    )


def test_hostile_comments_render_as_text_and_run_nothing(page, server):
    server.post_comment(HOSTILE_BODY, author_name=HOSTILE_NAME)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    widget = open_article(page, server)
    hostile = comment_in(widget, HOSTILE_NAME)
    expect(hostile).to_have_count(1)  # the name is shown as the text it is
    expect(hostile).to_contain_text("<img src=x onerror=alert(1)>")
    expect(hostile).to_contain_text("javascript:alert(1)")
    page.wait_for_timeout(300)  # an onerror handler would have fired by now
    assert dialogs == []
    assert _dangerous_elements(page) == {"img": 0, "script": 0, "javascriptHrefs": 0, "handlers": 0}


def test_a_hostile_preview_runs_nothing(page, server):
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    widget = open_article(page, server)
    form = main_form(widget)
    comment_box(widget).fill(HOSTILE_BODY)
    form.get_by_role("button", name="Preview", exact=True).click()
    expect(form.get_by_text("<img src=x onerror=alert(1)>", exact=False)).to_be_visible()
    page.wait_for_timeout(300)
    assert dialogs == []
    assert _dangerous_elements(page) == {"img": 0, "script": 0, "javascriptHrefs": 0, "handlers": 0}


def test_embedded_on_another_origin_it_reads_and_writes_across_origins(page, context, server):
    """Beyond the DOM contract: the way publishers embed it, the page's origin is not the
    server's. http://localhost:PORT is one of the demo site's allowed origins."""
    origin = f"http://localhost:{server.port}"
    # The page comes from page.route, so Chromium counts it as public, and its requests to the
    # loopback server would wait for the reader's Local Network Access permission. Real pages
    # and servers are both public; grant it.
    context.grant_permissions(["local-network-access"], origin=origin)
    url = embed_page(page, server, origin=origin)
    page.goto(url)
    widget = wait_for_widget(page)
    expect(count_heading(widget, 3)).to_be_visible()
    form = main_form(widget)
    form.get_by_role("textbox", name="Name", exact=True).fill("Cross Origin")
    comment_box(widget).fill("Posted from a publisher's page.")
    form.get_by_role("button", name="Post Comment", exact=True).click()
    expect(comment_in(widget, "Cross Origin")).to_contain_text("Posted from a publisher's page.")
    up = comment_in(widget, "Ted Zah").get_by_role("button", name="Upvote", exact=True)
    up.click()
    expect(up).to_have_attribute("aria-pressed", "true")
    assert server.find_comment(lambda c: c["author_name"] == "Cross Origin") is not None
    assert server.find_comment(lambda c: c["author_name"] == "Ted Zah")["upvotes"] == 1


def test_posting_again_after_a_503_whose_write_went_through_shows_one_comment(
    page, server, browser_errors
):
    """The database stored the post, but its answer was lost (here: the server's real answer
    replaced by a 503, as when PostgreSQL drops the connection just after the COMMIT). The
    reader presses Post again: the widget sends the same Idempotency-Key, and the server answers
    the stored comment instead of storing a second one."""
    browser_errors.expect(r"Failed to load resource")
    comments = re.compile(r"/api/v1/comments$")
    keys: list[str | None] = []

    def stored_but_lost(route):
        keys.append(route.request.headers.get("idempotency-key"))
        route.fetch()  # the server stores the comment ...
        route.fulfill(  # ... and the reader gets a 503
            status=503,
            content_type="application/json",
            headers={"Retry-After": "5", "Access-Control-Allow-Origin": "*"},
            body='{"error": {"code": "database_unavailable", "message": '
            '"The database is not answering; try again in a few seconds."}}',
        )

    widget = open_article(page, server)
    page.route(comments, stored_but_lost)
    form = main_form(widget)
    form.get_by_role("textbox", name="Name", exact=True).fill("Grace Hopper")
    comment_box(widget).fill("Said once, whatever the network does.")
    form.get_by_role("button", name="Post Comment", exact=True).click()
    expect(form.get_by_text("try again in a few seconds")).to_be_visible()

    page.unroute(comments)
    with page.expect_response(comments) as answer:
        form.get_by_role("button", name="Post Comment", exact=True).click()
    assert answer.value.status == 201
    assert answer.value.request.headers.get("idempotency-key") == keys[0]
    assert keys[0] is not None and re.fullmatch(r"[0-9a-f]{32}", keys[0])
    mine = comment_in(widget, "Grace Hopper")
    expect(mine).to_have_count(1)
    expect(count_heading(widget, 4)).to_be_visible()
    assert server.thread()["thread"]["comment_count"] == 4

    # The next comment from the same form is a new one, with a new key.
    with page.expect_response(comments) as answer:
        comment_box(widget).fill("And a second thought.")
        form.get_by_role("button", name="Post Comment", exact=True).click()
    assert answer.value.status == 201
    assert answer.value.request.headers.get("idempotency-key") not in (None, keys[0])
    expect(comment_in(widget, "Grace Hopper")).to_have_count(2)
