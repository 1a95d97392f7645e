"""The moderators' queue in a real browser, driven by the keyboard: j/k to move, a/r/s/b/f to
decide, x and Shift+A for several at once, u to undo, ? for help. Everything goes through a real
`townhall serve`: the moderator is made with the `townhall moderator` command, the comments
come through the public API, and the thread API shows each decision at once."""

from __future__ import annotations

import subprocess

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import TOWNHALL, _env
from tests.browser.support import Server

USERNAME = "desk"
PASSWORD = "a long demo password"


@pytest.fixture
def moderator(server: Server) -> str:
    """A moderator of the demo site, made by the CLI against the server's database."""
    result = subprocess.run(  # noqa: S603 (the project's own console script)
        [TOWNHALL, "moderator", "add", USERNAME, "--site", "demo", "--password-stdin"],
        input=PASSWORD + "\n",
        env=_env(server.var_dir),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return USERNAME


def log_in(page: Page, server: Server) -> None:
    page.goto(server.url("/moderate/login/"))
    page.get_by_label("User name").fill(USERNAME)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    # The demo site is this account's only site: the home page is its queue.
    expect(page).to_have_url(server.url("/moderate/demo/"))


def hold_comments_with(page: Page, server: Server, word: str) -> None:
    """The demo site shows comments at once; a suspect word makes them wait in the queue."""
    page.goto(server.url("/moderate/demo/rules/"))
    page.get_by_label("Suspect words").fill(word)
    page.get_by_role("button", name="Save the rules").click()
    expect(page.get_by_role("status")).to_contain_text("The moderation rules are saved.")


def shown(server: Server, comment_id: int) -> bool:
    return server.find_comment(lambda c: c["id"] == comment_id) is not None


def item(page: Page, comment_id: int):
    return page.locator(f"#comment-{comment_id}")


def expect_current(page: Page, comment_id: int) -> None:
    current = item(page, comment_id)
    expect(current).to_have_attribute("aria-current", "true")
    expect(current).to_be_focused()
    expect(page.locator("[data-item][aria-current]")).to_have_count(1)


def test_the_queue_by_keyboard(page: Page, server: Server, moderator: str):
    log_in(page, server)
    hold_comments_with(page, server, "airbase")
    ids = []
    for n, name in enumerate(["Ada", "Bo", "Cy", "Di"]):
        posted = server.post_comment(f"Comment {n} about the airbase.", author_name=name)
        ids.append(posted["comment"]["id"])
    assert not any(shown(server, i) for i in ids)
    ada, bo, cy, di = ids

    page.goto(server.url("/moderate/demo/"))
    expect(page.locator("[data-item]:visible")).to_have_count(4)
    expect(item(page, ada)).to_contain_text("Suspect word: airbase")
    status = page.get_by_role("status")

    # j chooses the first comment; a approves it: it leaves the queue, readers see it.
    page.keyboard.press("j")
    expect_current(page, ada)
    page.keyboard.press("a")
    expect(status).to_contain_text("Approved the comment by Ada.")
    expect(item(page, ada)).to_be_hidden()
    expect_current(page, bo)  # the focus moved on to the next one
    assert shown(server, ada)
    expect(page.locator('[data-count="pending"]')).to_have_text("3")

    # j, r rejects the next but one; u undoes it: back in the queue, and current.
    page.keyboard.press("j")
    expect_current(page, cy)
    page.keyboard.press("r")
    expect(status).to_contain_text("Rejected the comment by Cy.")
    expect(item(page, cy)).to_be_hidden()
    expect_current(page, di)
    page.keyboard.press("u")
    expect(status).to_contain_text("Undone.")
    expect(item(page, cy)).to_be_visible()
    expect_current(page, cy)

    # x, j, x selects two; Shift+A approves the selection.
    page.keyboard.press("x")
    page.keyboard.press("j")
    expect_current(page, di)
    page.keyboard.press("x")
    expect(page.locator("[data-selected-count]")).to_have_text("2")
    page.keyboard.press("Shift+A")
    expect(status).to_contain_text("Approved 2 comments.")
    expect(page.locator("[data-item]:visible")).to_have_count(1)
    expect_current(page, bo)
    assert [shown(server, i) for i in ids] == [True, False, True, True]

    # ? opens the shortcuts; Escape closes them.
    page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_dialog).to_be_visible()
    expect(help_dialog).to_contain_text("Approve the selected comments")
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()

    # After a reload the queue is what the server says.
    page.reload()
    expect(page.locator("[data-item]")).to_have_count(1)
    expect(item(page, bo)).to_be_visible()


def test_ban_and_undo_by_keyboard(page: Page, server: Server, moderator: str):
    log_in(page, server)
    hold_comments_with(page, server, "airbase")
    troll = {"author_name": "Troll", "author_email": "troll@example.org"}
    comment_id = server.post_comment("The airbase is a lie.", **troll)["comment"]["id"]
    page.goto(server.url("/moderate/demo/"))
    page.keyboard.press("j")
    expect_current(page, comment_id)
    page.keyboard.press("b")
    status = page.get_by_role("status")
    expect(status).to_contain_text("Banned Troll (7 days) and rejected the comment.")
    expect(item(page, comment_id)).to_be_hidden()
    expect(page.locator("[data-empty]")).to_be_visible()
    with pytest.raises(Exception, match="banned"):
        server.post_comment("Still here about nothing.", **troll)

    page.keyboard.press("u")
    expect(status).to_contain_text("Undone.")
    expect_current(page, comment_id)
    expect(page.locator("[data-empty]")).to_be_hidden()
    server.post_comment("Back again about nothing.", **troll)  # the bans are lifted

    page.goto(server.url("/moderate/demo/bans/"))
    expect(page.get_by_role("row")).to_have_count(4)  # the header and three lifted bans
    expect(page.get_by_role("button", name="Lift")).to_have_count(0)

    # In search results, decisions update the comment in place.
    page.goto(server.url("/moderate/demo/search/?q=lie"))
    found = item(page, comment_id)
    page.keyboard.press("j")
    expect_current(page, comment_id)
    page.keyboard.press("a")
    expect(found.locator("[data-state]")).to_have_text("Visible")
    expect_current(page, comment_id)
    page.keyboard.press("f")
    expect(status).to_contain_text("Featured the comment by Troll.")
    expect(found.get_by_role("button", name="Unfeature")).to_be_visible()
    expect(found.get_by_text("Featured", exact=True)).to_be_visible()
    featured = server.find_comment(lambda c: c["id"] == comment_id)
    assert featured is not None and featured["featured"] is True
