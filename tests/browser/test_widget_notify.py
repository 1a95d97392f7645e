"""The embed widget's email notifications: the "Notify of" control in the header bar, the
"Notify me of replies" checkbox in the comment forms, and links to #comment-N (the ones the
notification emails carry) scrolling to and focusing that comment.

The server under test is a separate process; what it stored is read straight from its SQLite
file (read-only), which is what a subscription request leaves behind.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3

import pytest
from playwright.sync_api import expect

from tests.browser.support import (
    comment_in,
    count_heading,
    has_deep_focus,
    main_form,
    open_article,
    wait_for_widget,
)

pytestmark = pytest.mark.usefixtures("widget_available")

THREAD = "new follow-up comments"
REPLIES = "new replies to my comments"
SUBSCRIBED_THREAD = "You're subscribed to new follow-up comments."
SUBSCRIBED_REPLIES = "You're subscribed to new replies to your comments."
CONFIRM_HINT = "If this is the first time, confirm the link we emailed you."
NOTIFY_REPLIES = "Notify me of replies to this comment"
SUBSCRIPTIONS = re.compile(r"/api/v1/subscriptions$")


# ---- helpers -------------------------------------------------------------------------------


def subscriptions(server) -> list[dict]:
    """Every subscription the server stored: kind, address, article URL, comment id."""
    path = server.var_dir / "db.sqlite3"
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as db:
        rows = db.execute(
            """SELECT s.kind, sub.email, t.url, s.comment_id
               FROM townhall_notifications_subscription s
               JOIN townhall_notifications_subscriber sub ON sub.id = s.subscriber_id
               JOIN townhall_discussions_thread t ON t.id = s.thread_id
               ORDER BY s.id"""
        ).fetchall()
    return [{"kind": k, "email": e, "url": u, "comment_id": c} for k, e, u, c in rows]


def toggle(widget):
    return widget.locator("header.bar").get_by_role("button", name="Notify of", exact=True)


def kind_select(widget):
    return widget.get_by_role("combobox", name="Notify of", exact=True)


def email_field(widget):
    return widget.locator("#th-notify").get_by_role("textbox", name="Email", exact=True)


def subscribe(widget, email: str, kind: str = THREAD) -> None:
    toggle(widget).click()
    kind_select(widget).select_option(label=kind)
    email_field(widget).fill(email)
    widget.get_by_role("button", name="Subscribe", exact=True).click()


def remember_identity(page, email: str) -> None:
    """What the comment form remembers after a post: the reader's name and address."""
    page.evaluate(
        "me => localStorage.setItem('townhall:me:demo', JSON.stringify(me))",
        {"name": "Ada Lovelace", "email": email},
    )


def expect_initial_state(widget) -> None:
    expect(toggle(widget)).to_be_visible()
    expect(toggle(widget)).to_have_attribute("aria-expanded", "false")
    expect(kind_select(widget)).to_be_hidden()
    expect(widget.get_by_role("button", name="Unsubscribe")).to_have_count(0)
    expect(widget.get_by_text("You're subscribed")).to_have_count(0)


# ---- the "Notify of" control ---------------------------------------------------------------


def test_notify_of_is_a_closed_disclosure_in_the_header_bar(page, server):
    widget = open_article(page, server)
    button = toggle(widget)
    expect(button).to_be_visible()
    expect_initial_state(widget)
    # It sits in the bar, on the heading's line, before the sort buttons.
    bar = widget.locator("header.bar")
    heading = count_heading(widget, 3).bounding_box()
    box = button.bounding_box()
    sort = bar.get_by_role("group", name="Sort comments").bounding_box()
    assert abs((box["y"] + box["height"] / 2) - (heading["y"] + heading["height"] / 2)) < 12
    assert box["x"] + box["width"] <= sort["x"]

    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    select = kind_select(widget)
    expect(select).to_be_visible()
    assert select.evaluate("e => e.tagName") == "SELECT"
    options = select.locator("option")
    expect(options).to_have_text([THREAD, REPLIES])
    assert [o.get_attribute("value") for o in options.all()] == ["thread", "replies"]
    expect(email_field(widget)).to_be_editable()
    expect(widget.get_by_role("button", name="Subscribe", exact=True)).to_be_visible()
    # The panel opens inside the header bar, above its bottom border.
    panel = widget.locator("#th-notify").bounding_box()
    bar_box = bar.bounding_box()
    assert panel["y"] + panel["height"] <= bar_box["y"] + bar_box["height"]

    button.click()
    expect_initial_state(widget)


def test_the_email_is_prefilled_from_the_comment_form(page, server):
    open_article(page, server)
    remember_identity(page, "ada@example.org")
    page.reload()
    widget = wait_for_widget(page)
    toggle(widget).click()
    expect(email_field(widget)).to_have_value("ada@example.org")


def test_subscribing_shows_the_confirmation_which_survives_a_reload(page, server):
    widget = open_article(page, server)
    subscribe(widget, "reader@example.org")
    expect(widget.get_by_text(SUBSCRIBED_THREAD, exact=True)).to_be_visible()
    expect(widget.get_by_text(CONFIRM_HINT, exact=True)).to_be_visible()
    unsubscribe = widget.get_by_role("button", name="Unsubscribe", exact=True)
    expect(unsubscribe).to_be_visible()
    expect(kind_select(widget)).to_be_hidden()  # the panel closed
    assert has_deep_focus(unsubscribe)  # the focus is not lost with the panel
    assert subscriptions(server) == [
        {
            "kind": "thread",
            "email": "reader@example.org",
            "url": server.article_url,
            "comment_id": None,
        }
    ]

    page.reload()
    widget = wait_for_widget(page)
    expect(widget.get_by_text(SUBSCRIBED_THREAD, exact=True)).to_be_visible()
    expect(widget.get_by_role("button", name="Unsubscribe", exact=True)).to_be_visible()
    # The other kind can still be chosen; the one followed already is not offered again.
    toggle(widget).click()
    expect(kind_select(widget).locator("option:enabled")).to_have_text([REPLIES])
    expect(kind_select(widget)).to_have_value("replies")


def test_unsubscribe_cancels_and_returns_to_the_initial_state(page, server):
    widget = open_article(page, server)
    subscribe(widget, "reader@example.org")
    expect(widget.get_by_text(SUBSCRIBED_THREAD, exact=True)).to_be_visible()
    assert len(subscriptions(server)) == 1

    widget.get_by_role("button", name="Unsubscribe", exact=True).click()
    expect_initial_state(widget)
    assert has_deep_focus(toggle(widget))
    assert subscriptions(server) == []
    toggle(widget).click()
    expect(kind_select(widget).locator("option:enabled")).to_have_text([THREAD, REPLIES])

    page.reload()
    widget = wait_for_widget(page)
    expect_initial_state(widget)


def test_both_kinds_can_be_followed_each_with_its_own_wording(page, server):
    widget = open_article(page, server)
    subscribe(widget, "reader@example.org", kind=REPLIES)
    expect(widget.get_by_text(SUBSCRIBED_REPLIES, exact=True)).to_be_visible()
    expect(widget.get_by_text(SUBSCRIBED_THREAD, exact=True)).to_have_count(0)
    subscribe(widget, "reader@example.org", kind=THREAD)
    expect(widget.get_by_text(SUBSCRIBED_THREAD, exact=True)).to_be_visible()
    expect(widget.get_by_text(SUBSCRIBED_REPLIES, exact=True)).to_be_visible()
    expect(widget.get_by_text(CONFIRM_HINT, exact=True)).to_have_count(1)
    expect(toggle(widget)).to_be_hidden()  # nothing left to subscribe to
    assert sorted(s["kind"] for s in subscriptions(server)) == ["replies", "thread"]

    # Unsubscribing from one leaves the other.
    line = widget.locator(".subscribed p").filter(has_text=SUBSCRIBED_REPLIES)
    line.get_by_role("button", name="Unsubscribe", exact=True).click()
    expect(widget.get_by_text(SUBSCRIBED_REPLIES, exact=True)).to_have_count(0)
    expect(widget.get_by_text(SUBSCRIBED_THREAD, exact=True)).to_be_visible()
    expect(toggle(widget)).to_be_visible()
    assert [s["kind"] for s in subscriptions(server)] == ["thread"]


def test_an_invalid_email_shows_an_alert_and_subscribes_nothing(page, server, browser_errors):
    browser_errors.expect(r"Failed to load resource: .* 400")  # Chromium logs the 400 itself
    widget = open_article(page, server)
    subscribe(widget, "not-an-email")
    alert = widget.get_by_role("alert").filter(has_text="That email address does not look right.")
    expect(alert).to_be_visible()
    field = email_field(widget)
    expect(field).to_have_attribute("aria-invalid", "true")
    assert has_deep_focus(field)
    expect(widget.get_by_text("You're subscribed")).to_have_count(0)
    assert subscriptions(server) == []

    # An empty address is refused before anything is sent.
    field.fill("")
    widget.get_by_role("button", name="Subscribe", exact=True).click()
    empty = widget.get_by_role("alert").filter(has_text="Please enter your email address.")
    expect(empty).to_be_visible()

    # A good address then goes through, and the alert goes away.
    field.fill("reader@example.org")
    widget.get_by_role("button", name="Subscribe", exact=True).click()
    expect(widget.get_by_text(SUBSCRIBED_THREAD, exact=True)).to_be_visible()
    expect(widget.get_by_role("alert").filter(has_text=re.compile(r"\S"))).to_have_count(0)


def test_too_many_requests_shows_a_readable_alert(page, server, browser_errors):
    browser_errors.expect(r"Failed to load resource: .* 429")
    body = json.dumps({"error": {"code": "rate_limited", "message": "Too many requests."}})
    page.route(
        SUBSCRIPTIONS,
        lambda route: route.fulfill(
            status=429, content_type="application/json", headers={"Retry-After": "30"}, body=body
        ),
    )
    widget = open_article(page, server)
    subscribe(widget, "reader@example.org")
    alert = widget.get_by_role("alert").filter(has_text="Please wait 30 seconds")
    expect(alert).to_be_visible()
    assert "commenting" not in alert.inner_text()  # not the comment form's wording
    expect(kind_select(widget)).to_be_visible()  # the form stays open to try again
    expect(widget.get_by_text("You're subscribed")).to_have_count(0)


def test_escape_closes_the_panel_and_returns_the_focus(page, server):
    widget = open_article(page, server)
    toggle(widget).click()
    select = kind_select(widget)
    expect(select).to_be_visible()
    assert has_deep_focus(select)  # opening moves the focus into the panel
    email_field(widget).focus()
    page.keyboard.press("Escape")
    expect(select).to_be_hidden()
    expect(toggle(widget)).to_have_attribute("aria-expanded", "false")
    assert has_deep_focus(toggle(widget))


def test_subscribing_and_unsubscribing_with_the_keyboard_alone(page, server):
    widget = open_article(page, server)
    button = toggle(widget)
    for _ in range(30):
        if has_deep_focus(button):
            break
        page.keyboard.press("Tab")
    assert has_deep_focus(button), "Tab never reached the Notify of button"
    page.keyboard.press("Enter")
    select = kind_select(widget)
    expect(select).to_be_visible()
    assert has_deep_focus(select)
    page.keyboard.press("ArrowDown")  # a closed select changes its value with the arrow keys
    expect(select).to_have_value("replies")
    page.keyboard.press("Tab")
    assert has_deep_focus(email_field(widget))
    page.keyboard.type("keys@example.org")
    page.keyboard.press("Enter")  # submits the small form
    expect(widget.get_by_text(SUBSCRIBED_REPLIES, exact=True)).to_be_visible()
    unsubscribe = widget.get_by_role("button", name="Unsubscribe", exact=True)
    assert has_deep_focus(unsubscribe)
    assert [(s["kind"], s["email"]) for s in subscriptions(server)] == [
        ("replies", "keys@example.org")
    ]
    page.keyboard.press("Enter")
    expect_initial_state(widget)
    assert has_deep_focus(button)
    assert subscriptions(server) == []


def test_the_control_fits_a_narrow_screen(page, server):
    page.set_viewport_size({"width": 360, "height": 740})
    widget = open_article(page, server)
    toggle(widget).click()
    expect(kind_select(widget)).to_be_visible()
    host = widget.bounding_box()
    for locator in (
        toggle(widget),
        kind_select(widget),
        email_field(widget),
        widget.get_by_role("button", name="Subscribe", exact=True),
        widget.get_by_role("group", name="Sort comments"),
    ):
        box = locator.bounding_box()
        assert host["x"] <= box["x"] and box["x"] + box["width"] <= host["x"] + host["width"] + 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


# ---- "Notify me of replies to this comment" ------------------------------------------------


def test_the_form_checkbox_needs_an_email_and_subscribes_to_replies(page, server):
    widget = open_article(page, server)
    form = main_form(widget)
    checkbox = form.get_by_role("checkbox", name=NOTIFY_REPLIES, exact=True)
    expect(checkbox).to_be_visible()
    expect(checkbox).to_be_disabled()
    email = form.get_by_role("textbox", name="Email (optional)", exact=True)
    email.fill("ada@example.org")
    expect(checkbox).to_be_enabled()
    checkbox.check()
    email.fill("")
    expect(checkbox).to_be_disabled()
    expect(checkbox).not_to_be_checked()
    email.fill("ada@example.org")
    checkbox.check()
    form.get_by_role("textbox", name="Name", exact=True).fill("Ada Lovelace")
    form.get_by_label("Comment", exact=True).fill("Tell me when someone answers.")
    form.get_by_role("button", name="Post Comment", exact=True).click()
    expect(comment_in(widget, "Ada Lovelace")).to_have_count(1)
    mine = server.find_comment(lambda c: "someone answers" in c["html"])
    assert subscriptions(server) == [
        {
            "kind": "comment",
            "email": "ada@example.org",
            "url": server.article_url,
            "comment_id": mine["id"],
        }
    ]

    # Unchecked, a comment subscribes to nothing.
    checkbox.uncheck()
    form.get_by_label("Comment", exact=True).fill("No mail about this one.")
    form.get_by_role("button", name="Post Comment", exact=True).click()
    expect(comment_in(widget, "Ada Lovelace")).to_have_count(2)
    assert len(subscriptions(server)) == 1


def test_the_reply_form_has_the_checkbox_when_an_email_is_known(page, server):
    widget = open_article(page, server)
    ted = comment_in(widget, "Ted Zah")
    ted.get_by_role("button", name="Reply", exact=True).click()
    reply_form = widget.get_by_role("form", name="Reply to Ted Zah", exact=True)
    expect(reply_form).to_be_visible()
    expect(reply_form.get_by_role("checkbox")).to_have_count(0)  # no address to write to
    reply_form.get_by_role("button", name="Cancel", exact=True).click()

    remember_identity(page, "ada@example.org")
    page.reload()
    widget = wait_for_widget(page)
    ted = comment_in(widget, "Ted Zah")
    ted.get_by_role("button", name="Reply", exact=True).click()
    reply_form = widget.get_by_role("form", name="Reply to Ted Zah", exact=True)
    checkbox = reply_form.get_by_role("checkbox", name=NOTIFY_REPLIES, exact=True)
    expect(checkbox).to_be_enabled()
    expect(checkbox).not_to_be_checked()
    checkbox.check()
    reply_form.get_by_role("textbox", name="Reply", exact=True).fill("Ted, answer me here.")
    reply_form.get_by_role("button", name="Post Reply", exact=True).click()
    expect(ted.get_by_role("article").filter(has_text="Ted, answer me here.")).to_have_count(1)
    reply = server.find_comment(lambda c: "answer me here" in c["html"])
    assert subscriptions(server) == [
        {
            "kind": "comment",
            "email": "ada@example.org",
            "url": server.article_url,
            "comment_id": reply["id"],
        }
    ]


# ---- links to #comment-N -------------------------------------------------------------------


def _ted_id(server) -> int:
    return server.find_comment(lambda c: c["author_name"] == "Ted Zah")["id"]


def test_a_comment_link_scrolls_to_highlights_and_focuses_the_comment(page, server):
    # Enough newer comments that Ted Zah's reply (under the oldest one) is far down the page.
    for n in range(1, 13):
        server.post_comment(
            f"Filler comment number {n}.\n\n" + "More words. " * 30, author_name=f"Reader {n}"
        )
    ted_id = _ted_id(server)
    page.goto(server.url(f"/#comment-{ted_id}"))
    widget = wait_for_widget(page)
    ted = comment_in(widget, "Ted Zah")
    expect(ted).to_have_class(re.compile(r"\btarget\b"))
    expect(ted).to_be_in_viewport()
    assert page.evaluate("scrollY") > 1000
    assert has_deep_focus(ted)
    assert ted.get_attribute("tabindex") == "-1"
    # The highlight is visible: the comment's own parts get a tinted background.
    tint = ted.locator(":scope > .body").evaluate("e => getComputedStyle(e).backgroundColor")
    assert tint not in ("rgba(0, 0, 0, 0)", "transparent"), tint
    other = comment_in(widget, "Reader 3").locator(":scope > .body")
    assert other.evaluate("e => getComputedStyle(e).backgroundColor") == "rgba(0, 0, 0, 0)"


def test_a_link_to_a_comment_that_is_not_shown_changes_nothing(page, server, browser_errors):
    # The widget asks whether it is a reply its page left out; the server knows no such comment
    # (the browser logs the 404 of that request).
    browser_errors.expect(r"404 .*/api/v1/comments/999999/replies")
    page.goto(server.url("/#comment-999999"))
    widget = wait_for_widget(page)
    expect(comment_in(widget, "Ted Zah")).to_be_visible()
    expect(widget.locator(".target")).to_have_count(0)
    assert page.evaluate("scrollY") == 0


def test_a_hash_change_on_the_open_page_reveals_the_comment(page, server):
    widget = open_article(page, server)
    ted = comment_in(widget, "Ted Zah")
    expect(ted).to_be_visible()
    page.evaluate("id => { location.hash = 'comment-' + id; }", _ted_id(server))
    expect(ted).to_have_class(re.compile(r"\btarget\b"))
    assert has_deep_focus(ted)
