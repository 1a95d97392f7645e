"""The embed widget writing: posting, previewing, voting, replying, editing and deleting."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.support import (
    comment_box,
    comment_in,
    count_heading,
    main_form,
    open_article,
    wait_for_widget,
)

pytestmark = pytest.mark.usefixtures("widget_available")

TED = "Another turkish bazaar"


def post_from_the_form(widget, body: str, name: str = "Ada Lovelace", shown: str | None = None):
    """Posts ``body`` from the main form; returns the new comment (found by ``shown``, its text)."""
    form = main_form(widget)
    form.get_by_role("textbox", name="Name", exact=True).fill(name)
    comment_box(widget).fill(body)
    form.get_by_role("button", name="Post Comment", exact=True).click()
    mine = comment_in(widget, name).filter(has_text=shown or body)
    expect(mine).to_have_count(1)
    return mine


def test_the_form_has_its_labelled_fields_and_buttons(page, server):
    widget = open_article(page, server)
    form = main_form(widget)
    expect(form).to_be_visible()
    expect(form.get_by_role("textbox", name="Name", exact=True)).to_be_editable()
    expect(form.get_by_role("textbox", name="Email (optional)", exact=True)).to_be_editable()
    expect(form.get_by_label("Comment", exact=True)).to_be_editable()
    assert form.get_by_label("Comment", exact=True).evaluate("e => e.tagName") == "TEXTAREA"
    expect(form.get_by_role("button", name="Preview", exact=True)).to_be_visible()
    expect(form.get_by_role("button", name="Post Comment", exact=True)).to_be_visible()


def test_posting_a_comment_adds_it_to_the_list_and_the_count(page, server):
    widget = open_article(page, server)
    form = main_form(widget)
    form.get_by_role("textbox", name="Email (optional)", exact=True).fill("ada@example.org")
    mine = post_from_the_form(
        widget, "First *posted* from a real browser.", shown="First posted from a real browser."
    )
    expect(count_heading(widget, 4)).to_be_visible()
    expect(mine).to_contain_text("Ada Lovelace")
    expect(mine.locator("em")).to_have_text("posted")
    stored = server.find_comment(lambda c: "from a real browser" in c["html"])
    assert stored is not None and stored["author_name"] == "Ada Lovelace"
    # It stays after a reload, read back from the server.
    page.reload()
    widget = wait_for_widget(page)
    expect(count_heading(widget, 4)).to_be_visible()
    expect(comment_in(widget, "Ada Lovelace")).to_contain_text("First posted from a real browser.")


def test_preview_shows_the_rendered_markdown_and_write_goes_back(page, server):
    widget = open_article(page, server)
    form = main_form(widget)
    box = comment_box(widget)
    box.fill("Some **bold** words")
    form.get_by_role("button", name="Preview", exact=True).click()
    expect(form.get_by_role("button", name="Write", exact=True)).to_be_visible()
    expect(form.get_by_role("button", name="Preview", exact=True)).to_have_count(0)
    expect(form.locator("strong")).to_have_text("bold")
    form.get_by_role("button", name="Write", exact=True).click()
    expect(form.get_by_role("button", name="Preview", exact=True)).to_be_visible()
    expect(box).to_be_visible()
    expect(box).to_have_value("Some **bold** words")  # the draft survives the preview
    assert server.thread()["thread"]["comment_count"] == 3  # previewing posts nothing


def _votes(server, author: str) -> tuple[int, int]:
    comment = server.find_comment(lambda c: c["author_name"] == author)
    return comment["upvotes"], comment["downvotes"]


def test_votes_are_toggle_buttons_showing_the_readers_own_vote(page, server):
    widget = open_article(page, server)
    ted = comment_in(widget, "Ted Zah")
    up = ted.get_by_role("button", name="Upvote", exact=True)
    down = ted.get_by_role("button", name="Downvote", exact=True)

    up.click()
    expect(up).to_have_attribute("aria-pressed", "true")
    expect(down).to_have_attribute("aria-pressed", "false")
    expect(ted).to_contain_text(re.compile(r"(^|\D)1(\D|$)"))
    assert _votes(server, "Ted Zah") == (1, 0)

    down.click()
    expect(down).to_have_attribute("aria-pressed", "true")
    expect(up).to_have_attribute("aria-pressed", "false")
    assert _votes(server, "Ted Zah") == (0, 1)

    down.click()  # pressing the pressed button takes the vote back
    expect(down).to_have_attribute("aria-pressed", "false")
    expect(up).to_have_attribute("aria-pressed", "false")
    assert _votes(server, "Ted Zah") == (0, 0)


def test_the_readers_own_vote_is_still_shown_after_a_reload(page, server):
    widget = open_article(page, server)
    up = comment_in(widget, "Ted Zah").get_by_role("button", name="Upvote", exact=True)
    up.click()
    expect(up).to_have_attribute("aria-pressed", "true")
    page.reload()
    widget = wait_for_widget(page)
    ted = comment_in(widget, "Ted Zah")
    expect(ted.get_by_role("button", name="Upvote", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(ted.get_by_role("button", name="Downvote", exact=True)).to_have_attribute(
        "aria-pressed", "false"
    )


def test_reply_opens_an_inline_form_and_nests_the_reply(page, server):
    widget = open_article(page, server)
    ted = comment_in(widget, "Ted Zah")
    ted.get_by_role("button", name="Reply", exact=True).click()
    reply_form = widget.get_by_role("form", name="Reply to Ted Zah", exact=True)
    expect(reply_form).to_be_visible()
    expect(reply_form.get_by_role("button", name="Cancel", exact=True)).to_be_visible()
    reply_form.get_by_role("textbox", name="Reply", exact=True).fill("A reply to Ted, nested.")
    reply_form.get_by_role("button", name="Post Reply", exact=True).click()
    nested = ted.get_by_role("article").filter(has_text="A reply to Ted, nested.")
    expect(nested).to_have_count(1)
    expect(count_heading(widget, 4)).to_be_visible()
    stored = server.find_comment(lambda c: "A reply to Ted" in c["html"])
    ted_id = server.find_comment(lambda c: c["author_name"] == "Ted Zah")["id"]
    assert stored is not None and stored["parent_id"] == ted_id


def test_cancel_closes_the_reply_form_without_posting(page, server):
    widget = open_article(page, server)
    comment_in(widget, "Ted Zah").get_by_role("button", name="Reply", exact=True).click()
    reply_form = widget.get_by_role("form", name="Reply to Ted Zah", exact=True)
    reply_form.get_by_role("textbox", name="Reply", exact=True).fill("Never mind.")
    reply_form.get_by_role("button", name="Cancel", exact=True).click()
    expect(reply_form).to_have_count(0)
    expect(count_heading(widget, 3)).to_be_visible()
    assert server.thread()["thread"]["comment_count"] == 3


def test_own_comment_can_be_edited(page, server):
    widget = open_article(page, server)
    mine = post_from_the_form(widget, "Written in haste.")
    mine.get_by_role("button", name="Edit", exact=True).click()
    editor = mine.get_by_role("textbox", name="Edit comment", exact=True)
    expect(editor).to_have_value("Written in haste.")
    editor.fill("Repented at **leisure**.")
    mine_now = comment_in(widget, "Ada Lovelace")
    mine_now.get_by_role("button", name="Save", exact=True).click()
    expect(mine_now.get_by_role("textbox", name="Edit comment")).to_have_count(0)
    expect(mine_now).to_contain_text("Repented at leisure.")
    expect(mine_now.locator("strong")).to_have_text("leisure")
    stored = server.find_comment(lambda c: c["author_name"] == "Ada Lovelace")
    assert "Repented" in stored["html"] and stored["edited"]


def test_editing_can_be_cancelled(page, server):
    widget = open_article(page, server)
    mine = post_from_the_form(widget, "Keep me as I am.")
    mine.get_by_role("button", name="Edit", exact=True).click()
    mine.get_by_role("textbox", name="Edit comment", exact=True).fill("Something else")
    mine.get_by_role("button", name="Cancel", exact=True).click()
    expect(mine.get_by_role("textbox", name="Edit comment")).to_have_count(0)
    expect(mine).to_contain_text("Keep me as I am.")
    expect(mine).not_to_contain_text("Something else")


def test_own_comment_is_deleted_after_an_inline_confirmation(page, server):
    widget = open_article(page, server)
    mine = post_from_the_form(widget, "Soon to be gone.")
    expect(count_heading(widget, 4)).to_be_visible()

    mine.get_by_role("button", name="Delete", exact=True).click()
    expect(mine.get_by_role("button", name="Yes, delete", exact=True)).to_be_visible()
    mine.get_by_role("button", name="Cancel", exact=True).click()
    expect(mine.get_by_role("button", name="Yes, delete")).to_have_count(0)
    expect(mine).to_contain_text("Soon to be gone.")

    mine.get_by_role("button", name="Delete", exact=True).click()
    mine.get_by_role("button", name="Yes, delete", exact=True).click()
    expect(widget.get_by_text("Soon to be gone.")).to_have_count(0)
    expect(count_heading(widget, 3)).to_be_visible()
    assert server.find_comment(lambda c: "Soon to be gone" in c["html"]) is None
    assert server.thread()["thread"]["comment_count"] == 3


def test_deleting_own_comment_with_replies_leaves_a_placeholder(page, server):
    widget = open_article(page, server)
    mine = post_from_the_form(widget, "Someone will answer this.")
    mine.get_by_role("button", name="Reply", exact=True).first.click()
    reply_form = widget.get_by_role("form", name="Reply to Ada Lovelace", exact=True)
    reply_form.get_by_role("textbox", name="Reply", exact=True).fill("I answered.")
    reply_form.get_by_role("button", name="Post Reply", exact=True).click()
    expect(mine.get_by_role("article").filter(has_text="I answered.")).to_have_count(1)
    expect(count_heading(widget, 5)).to_be_visible()

    # The parent's own Delete button comes before its replies' buttons.
    mine.get_by_role("button", name="Delete", exact=True).first.click()
    widget.get_by_role("button", name="Yes, delete", exact=True).click()
    expect(widget.get_by_text("This comment was deleted.")).to_be_visible()
    expect(widget.get_by_text("Someone will answer this.")).to_have_count(0)
    # The reply (also this reader's) stays, now under the placeholder.
    expect(comment_in(widget, "Ada Lovelace")).to_have_count(1)
    expect(comment_in(widget, "Ada Lovelace")).to_contain_text("I answered.")
    expect(count_heading(widget, 4)).to_be_visible()  # 3 seed comments + the reply
    parent = server.find_comment(lambda c: any("I answered" in r["html"] for r in c["replies"]))
    assert parent["status"] == "deleted" and parent["html"] == ""


def test_own_comments_stay_editable_after_a_reload(page, server):
    widget = open_article(page, server)
    post_from_the_form(widget, "Still mine after a reload.")
    page.reload()
    widget = wait_for_widget(page)
    mine = comment_in(widget, "Ada Lovelace")
    expect(mine).to_contain_text("Still mine after a reload.")
    expect(mine.get_by_role("button", name="Edit", exact=True)).to_be_visible()
    expect(mine.get_by_role("button", name="Delete", exact=True)).to_be_visible()
    # Other people's comments stay theirs.
    expect(comment_in(widget, "Ted Zah").get_by_role("button", name="Edit")).to_have_count(0)
