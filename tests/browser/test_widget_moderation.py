"""The embed widget's part in moderation: readers report comments, editors' picks stand out."""

from __future__ import annotations

import re
import subprocess
import time

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import TOWNHALL, _env
from tests.browser.support import (
    comment_box,
    comment_in,
    count_heading,
    has_deep_focus,
    main_form,
    open_article,
)

pytestmark = pytest.mark.usefixtures("widget_available")

C1 = "Now that seems like real Turkish move"  # Anonymous, Ted Zah replies
C3 = "The turkeys now betraying their NATO partners"  # Anonymous, no replies
FLAG = re.compile(r"/api/v1/comments/\d+/flag$")
THANKS = "Reported. Thank you."


def seed_comment(widget, text: str):
    """A seed comment without replies, found by its text."""
    return widget.get_by_role("article").filter(has_text=text)


def report_form(comment):
    return comment.get_by_role("group", name="Report this comment", exact=True)


def feature(server, comment_id: int) -> None:
    """Makes a comment an editor's pick through the real action, as a moderator would, from
    another process over the server's database; waits until the server serves it so."""
    code = (
        "from townhall.discussions.models import Comment;"
        "from townhall.moderation.actions import do_feature_comment;"
        f"do_feature_comment(None, Comment.objects.get(pk={comment_id}))"
    )
    subprocess.run(  # noqa: S603 (the project's own console script)
        [TOWNHALL, "shell", "-c", code],
        env=_env(server.var_dir),
        check=True,
        capture_output=True,
        timeout=60,
    )
    # Without Redis, the server learns of another process's write within a few seconds.
    deadline = time.monotonic() + 10
    while not server.find_comment(lambda c: c["id"] == comment_id)["featured"]:
        assert time.monotonic() < deadline, "the server never showed the pick"
        time.sleep(0.2)


def test_a_reader_reports_a_comment_by_keyboard_and_it_stays_reported(page, server):
    widget = open_article(page, server)
    ted = comment_in(widget, "Ted Zah")
    ted.get_by_role("button", name="Report", exact=True).focus()
    page.keyboard.press("Enter")

    form = report_form(ted)
    reason = form.get_by_role("combobox", name="Reason", exact=True)
    expect(reason).to_have_value("spam")
    assert has_deep_focus(reason)
    expect(reason.locator("option")).to_have_text(
        ["Spam", "Abusive or hateful", "Off topic", "Something else"]
    )
    page.keyboard.press("ArrowDown")
    expect(reason).to_have_value("abuse")
    page.keyboard.press("Tab")
    assert has_deep_focus(form.get_by_role("textbox", name="Note (optional)", exact=True))
    page.keyboard.type("Insults a whole nation.")
    with page.expect_response(FLAG) as answer:
        page.keyboard.press("Enter")
    assert answer.value.status == 202
    assert answer.value.request.post_data_json == {
        "reason": "abuse",
        "note": "Insults a whole nation.",
    }

    expect(form).to_have_count(0)
    thanks = ted.get_by_text(THANKS, exact=True)
    expect(thanks).to_be_visible()
    assert has_deep_focus(thanks)
    expect(ted.get_by_role("button", name="Report", exact=True)).to_have_count(0)
    expect(widget.get_by_role("status")).to_have_text(THANKS)

    page.reload()
    ted = comment_in(widget, "Ted Zah")
    expect(ted.get_by_text(THANKS, exact=True)).to_be_visible()
    expect(ted.get_by_role("button", name="Report", exact=True)).to_have_count(0)
    # Only that one: the other comments can still be reported.
    c3 = seed_comment(widget, C3)
    expect(c3.get_by_role("button", name="Report", exact=True)).to_be_visible()


def test_reporting_by_mouse_can_be_cancelled_and_shows_errors(page, server, browser_errors):
    widget = open_article(page, server)
    c3 = seed_comment(widget, C3)
    button = c3.get_by_role("button", name="Report", exact=True)

    button.click()
    expect(report_form(c3)).to_be_visible()
    page.keyboard.press("Escape")
    expect(report_form(c3)).to_have_count(0)
    expect(button).to_be_visible()
    assert has_deep_focus(button)

    button.click()
    report_form(c3).get_by_role("button", name="Cancel", exact=True).click()
    expect(report_form(c3)).to_have_count(0)
    assert has_deep_focus(button)

    # The comment went away meanwhile: the group says so and stays, to try again.
    browser_errors.expect(r"status of 404")
    page.route(
        FLAG,
        lambda route: route.fulfill(
            status=404,
            content_type="application/json",
            json={"error": {"code": "comment_not_found", "message": "No.", "field": None}},
        ),
    )
    button.click()
    form = report_form(c3)
    form.get_by_role("combobox", name="Reason").select_option("off_topic")
    form.get_by_role("button", name="Send report", exact=True).click()
    expect(form.get_by_role("alert")).to_have_text("This comment is no longer there.")
    page.unroute(FLAG)

    with page.expect_response(FLAG) as answer:
        form.get_by_role("button", name="Send report", exact=True).click()
    assert answer.value.request.post_data_json == {"reason": "off_topic", "note": ""}
    expect(c3.get_by_text(THANKS, exact=True)).to_be_visible()
    expect(form).to_have_count(0)


def test_own_comments_have_no_report_button(page, server):
    widget = open_article(page, server)
    form = main_form(widget)
    form.get_by_role("textbox", name="Name", exact=True).fill("Ada Lovelace")
    comment_box(widget).fill("My own words.")
    form.get_by_role("button", name="Post Comment", exact=True).click()
    mine = comment_in(widget, "Ada Lovelace")
    expect(mine.get_by_role("button", name="Edit", exact=True)).to_be_visible()
    expect(mine.get_by_role("button", name="Report")).to_have_count(0)
    expect(comment_in(widget, "Ted Zah").get_by_role("button", name="Report")).to_be_visible()

    page.reload()
    mine = comment_in(widget, "Ada Lovelace")
    expect(mine.get_by_role("button", name="Delete", exact=True)).to_be_visible()
    expect(mine.get_by_role("button", name="Report")).to_have_count(0)


def test_three_readers_reports_take_a_comment_out_of_the_thread(page, server):
    widget = open_article(page, server)
    c3 = seed_comment(widget, C3)
    c3.get_by_role("button", name="Report", exact=True).click()
    report_form(c3).get_by_role("button", name="Send report", exact=True).click()
    expect(c3.get_by_text(THANKS, exact=True)).to_be_visible()

    # The browser is one reader (its address); two commenters with tokens are two more. They
    # comment elsewhere, to leave this thread's count alone.
    elsewhere = server.url("/2016/07/another-article/")
    comment_id = server.find_comment(lambda c: (c["html"] or "").startswith(f"<p>{C3}"))["id"]
    for name in ("Second Reader", "Third Reader"):
        token = server.post_comment("Hello.", url=elsewhere, author_name=name)["edit_token"]
        answer = server.request(
            "POST", f"/api/v1/comments/{comment_id}/flag", {"reason": "abuse"}, token=token
        )
        assert answer == {"reported": True}

    page.reload()
    expect(count_heading(widget, 2)).to_be_visible()
    expect(seed_comment(widget, C3)).to_have_count(0)
    expect(comment_in(widget, "Ted Zah")).to_be_visible()


def test_an_editors_pick_is_marked(page, server):
    widget = open_article(page, server)
    expect(widget.get_by_text("Editor's pick")).to_have_count(0)
    c1 = server.find_comment(lambda c: (c["html"] or "").startswith(f"<p>{C1}"))
    feature(server, c1["id"])

    page.reload()
    first = widget.locator(f"#comment-{c1['id']}")
    badge = first.locator(":scope > header").get_by_text("Editor's pick", exact=True)
    expect(badge).to_be_visible()
    expect(first).to_have_class(re.compile(r"\bfeatured\b"))
    # Words in the meta line, read with the rest of it; the reply is not a pick.
    expect(widget.locator(".pick")).to_have_count(1)
    expect(comment_in(widget, "Ted Zah").get_by_text("Editor's pick")).to_have_count(0)
    # The server-rendered thread in the page (for search engines, and before the script runs)
    # marks it too.
    marker = page.locator(f"#townhall-comment-{c1['id']} > header > .townhall-comment__pick")
    expect(marker).to_have_text("Editor's pick")
    expect(page.locator(".townhall-comment__pick")).to_have_count(1)
