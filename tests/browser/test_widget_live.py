"""The embed widget's live updates: what other readers do reaches an open page over the thread's
event stream (GET /api/v1/threads/{id}/events). Other readers act over HTTP, as the server's API
clients; the reader is the browser on the demo article."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.support import (
    Server,
    comment_box,
    comment_in,
    count_heading,
    embed_page,
    has_deep_focus,
    main_form,
    open_article,
    top_level_texts,
    wait_for_widget,
)

pytestmark = pytest.mark.usefixtures("widget_available")

C1 = "Now that seems like real Turkish move"  # oldest top-level seed comment, Ted Zah replies
C3 = "The turkeys now betraying their NATO partners"  # newest top-level seed comment
STREAM_OPEN = "() => Townhall.widgets[0]?.live?.readyState === EventSource.OPEN"


def new_button(widget, n: int):
    label = f"{n} new comment — show" if n == 1 else f"{n} new comments — show"
    return widget.get_by_role("button", name=label, exact=True)


def any_new_button(widget):
    return widget.get_by_role("button", name=re.compile(r"new comments? — show$"))


def seed_id(server: Server, text: str) -> int:
    return server.find_comment(lambda c: text in c["html"])["id"]


def test_a_new_comment_waits_behind_a_button_and_the_list_does_not_move(page, server):
    widget = open_article(page, server)
    # Room to scroll the list up; and without Chromium's own scroll anchoring (Safari has none),
    # so that the widget's is what keeps the list in place.
    # Through the CSSOM: the demo page's CSP refuses a <style> element it does not know.
    page.evaluate(
        "() => { for (const el of [document.documentElement, document.body])"
        " el.style.overflowAnchor = 'none'; document.body.style.paddingBottom = '2000px'; }"
    )
    newest = widget.get_by_role("article").filter(has_text=C3)
    newest.evaluate("el => el.scrollIntoView()")  # the reader reads the list
    before = newest.bounding_box()["y"]

    server.post_comment("Fresh from another reader.", author_name="Bea")
    expect(new_button(widget, 1)).to_be_visible()  # it stays at the top of the screen
    expect(widget.locator("[aria-live=polite] > button")).to_have_text("1 new comment — show")
    expect(count_heading(widget, 4)).to_have_count(1)
    expect(widget.get_by_text("Fresh from another reader.")).to_have_count(0)
    assert newest.bounding_box()["y"] == pytest.approx(before, abs=1)

    server.post_comment("Second from another reader.", author_name="Cem")
    expect(new_button(widget, 2)).to_be_visible()
    expect(count_heading(widget, 5)).to_have_count(1)
    assert newest.bounding_box()["y"] == pytest.approx(before, abs=1)

    new_button(widget, 2).click()
    expect(any_new_button(widget)).to_have_count(0)
    texts = top_level_texts(widget)
    assert "Second from another reader." in texts[0]  # at the top, newest first
    assert "Fresh from another reader." in texts[1]
    assert C3 in texts[2]
    expect(count_heading(widget, 5)).to_be_visible()
    assert has_deep_focus(comment_in(widget, "Cem"))  # the first of the new comments
    expect(comment_in(widget, "Cem")).to_be_in_viewport()


def test_replies_land_under_their_parent_and_oldest_adds_at_the_end(page, server):
    widget = open_article(page, server)
    widget.get_by_role("button", name="Oldest", exact=True).click()
    expect(widget.get_by_role("button", name="Oldest", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    server.post_comment("An answer to the first.", author_name="Bea", parent_id=seed_id(server, C1))
    server.post_comment("A new thought at the end.", author_name="Cem")
    new_button(widget, 2).click()

    first = widget.get_by_role("article").filter(has_text=C1).first
    expect(first.get_by_role("article", name="Comment by Bea", exact=True)).to_contain_text(
        "An answer to the first."
    )
    assert "A new thought at the end." in top_level_texts(widget)[-1]
    assert not any("An answer to the first." in text for text in top_level_texts(widget)[1:])
    expect(count_heading(widget, 5)).to_be_visible()


def test_votes_of_another_reader_change_the_score_in_place(page, server):
    widget = open_article(page, server)
    ted = comment_in(widget, "Ted Zah")
    up = ted.get_by_role("button", name="Upvote", exact=True)
    up.click()
    expect(ted.locator(".score")).to_have_text("+1")
    up.focus()

    token = server.post_comment("I vote too.", author_name="Bea")["edit_token"]
    ted_id = seed_id(server, "Another turkish bazaar")
    server.request("POST", f"/api/v1/comments/{ted_id}/vote", {"value": 1}, token=token)
    expect(ted.locator(".score")).to_have_text("+2")
    expect(ted.locator(".score")).to_have_attribute("aria-label", "2 up, 0 down")
    expect(up).to_have_attribute("aria-pressed", "true")  # still this reader's own vote
    assert has_deep_focus(up)

    server.request("POST", f"/api/v1/comments/{ted_id}/vote", {"value": -1}, token=token)
    expect(ted.locator(".score")).to_have_text("0")
    expect(ted.locator(".score")).to_have_attribute("aria-label", "1 up, 1 down")
    assert has_deep_focus(up)


def test_edits_and_deletions_of_another_reader_apply_in_place(page, server):
    widget = open_article(page, server)
    posted = server.post_comment("Before the edit.", author_name="Bea")
    token, first_id = posted["edit_token"], posted["comment"]["id"]
    second_id = server.post_comment("Gone soon.", token=token)["comment"]["id"]
    third_id = server.post_comment("Gone before anyone saw it.", token=token)["comment"]["id"]
    expect(new_button(widget, 3)).to_be_visible()
    server.request("DELETE", f"/api/v1/comments/{third_id}", token=token)
    expect(new_button(widget, 2)).to_be_visible()
    server.post_comment("Cem answers Bea.", author_name="Cem", parent_id=first_id)
    expect(new_button(widget, 3)).to_be_visible()  # a reply to a new comment counts too
    new_button(widget, 3).click()
    expect(count_heading(widget, 6)).to_be_visible()
    bea = widget.locator(f"#comment-{first_id}")
    expect(bea.get_by_role("article", name="Comment by Cem", exact=True)).to_have_count(1)

    # The reader starts a reply; the edit changes the comment, not the draft or the focus.
    bea.get_by_role("button", name="Reply", exact=True).first.click()
    draft = widget.get_by_role("form", name="Reply to Bea", exact=True).get_by_role("textbox")
    draft.fill("My half-written reply")
    server.request("PATCH", f"/api/v1/comments/{first_id}", {"body": "After the edit."}, token)
    expect(bea).to_contain_text("After the edit.")
    expect(bea).to_contain_text("edited")
    expect(draft).to_have_value("My half-written reply")
    assert has_deep_focus(draft)

    server.request("DELETE", f"/api/v1/comments/{second_id}", token=token)
    expect(widget.get_by_text("Gone soon.")).to_have_count(0)
    expect(count_heading(widget, 5)).to_be_visible()
    server.request("DELETE", f"/api/v1/comments/{first_id}", token=token)
    # With a reply below it, it leaves a placeholder; the reply stays.
    expect(bea).to_contain_text("This comment was deleted.")
    expect(bea.get_by_role("article", name="Comment by Cem", exact=True)).to_have_count(1)
    expect(count_heading(widget, 4)).to_be_visible()
    expect(any_new_button(widget)).to_have_count(0)


def post_from_the_form(widget, name: str, body: str) -> None:
    main_form(widget).get_by_role("textbox", name="Name", exact=True).fill(name)
    comment_box(widget).fill(body)
    main_form(widget).get_by_role("button", name="Post Comment", exact=True).click()
    expect(widget.get_by_role("article").filter(has_text=body)).to_have_count(1)


def test_the_first_comment_starts_the_stream_and_own_comments_are_not_counted_again(page, server):
    article = server.url("/2016/07/another-article/")
    page.goto(embed_page(page, server, article_url=article))
    widget = wait_for_widget(page)
    expect(count_heading(widget, 0)).to_be_visible()  # no thread yet, so no stream either
    post_from_the_form(widget, "Ada", "The first word.")  # creates the thread: now followed
    page.wait_for_function(STREAM_OPEN)
    server.post_comment("Someone else's.", url=article, author_name="Bea")
    expect(new_button(widget, 1)).to_be_visible()
    expect(count_heading(widget, 2)).to_be_visible()

    # The reader's own next comment: its event comes too, and is not counted as new.
    post_from_the_form(widget, "Ada", "My second word.")
    expect(count_heading(widget, 3)).to_be_visible()
    server.post_comment("Someone else's again.", url=article, author_name="Cem")
    expect(new_button(widget, 2)).to_be_visible()
    expect(count_heading(widget, 4)).to_be_visible()
    new_button(widget, 2).click()
    assert [text.split("\n")[0] for text in top_level_texts(widget)] == ["Cem", "Bea", "Ada", "Ada"]


class Cable:
    """A TCP relay between the browser and the server that can be cut like a dropped network:
    its connections are closed and new ones refused until it is mended. (Playwright's offline
    mode leaves an open event stream alone.)"""

    def __init__(self, port: int) -> None:
        self.target = ("127.0.0.1", port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            if not self.up:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.sockets |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.up = False
        with self.lock:
            ends, self.sockets = self.sockets, set()
        for end in ends:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def mend(self) -> None:
        self.up = True

    def close(self) -> None:
        self.listener.close()
        self.cut()


@pytest.fixture
def cable(server: Server) -> Iterator[Cable]:
    cable = Cable(server.port)
    yield cable
    cable.close()


def test_events_missed_while_the_connection_was_down_arrive_when_it_is_back(
    page, server, cable, browser_errors
):
    # The page and everything the widget asks for come through the cable.
    through_cable = Server(port=cable.port, var_dir=server.var_dir, log_path=server.log_path)
    page.goto(embed_page(page, through_cable, article_url=server.article_url))
    widget = wait_for_widget(page)
    server.post_comment("Before the drop.", author_name="Bea")
    expect(new_button(widget, 1)).to_be_visible()

    # Chromium logs the dropped stream and the attempts to reconnect while the cable is cut.
    browser_errors.expect(r"net::ERR_\w+ \(http://[^)]+/events\?last_event_id=\d+\)$")
    cable.cut()
    page.wait_for_function("() => Townhall.widgets[0].live.readyState === EventSource.CONNECTING")
    server.post_comment("While the reader was away.", author_name="Cem")
    server.post_comment("Also while away.", author_name="Dan")
    cable.mend()
    # The browser reconnects by itself with Last-Event-ID; the server sends what was missed.
    expect(new_button(widget, 3)).to_be_visible(timeout=10_000)
    expect(count_heading(widget, 6)).to_be_visible()
    new_button(widget, 3).click()
    for name in ("Bea", "Cem", "Dan"):
        expect(comment_in(widget, name)).to_have_count(1)


def test_a_reset_stream_loads_the_thread_again(page, server):
    widget = open_article(page, server)
    page.wait_for_function(STREAM_OPEN)
    page.evaluate("() => Townhall.widgets[0].live.close()")
    server.post_comment("Posted while no stream was open.", author_name="Bea")
    # An event the server no longer keeps: it answers `reset`, and the widget reloads.
    page.evaluate("() => Townhall.widgets[0].listen(987654321)")
    expect(comment_in(widget, "Bea")).to_have_count(1)
    expect(count_heading(widget, 4)).to_be_visible()
    expect(any_new_button(widget)).to_have_count(0)
    page.wait_for_function(STREAM_OPEN)
    server.post_comment("After the reload.", author_name="Cem")
    expect(new_button(widget, 1)).to_be_visible()
