"""Reader identity in the widget: sign-in through the publisher's login (SSO, the demo page's
stand-in for it) and by an emailed magic link, the account menu (download and delete my data,
claim earlier comments, sign out), and its keyboard access.

The magic link goes the whole way: the widget asks for it, `townhall worker` sends it (the
server's file email backend, as without TOWNHALL_EMAIL_URL), and the test follows the link from
the email.
"""

from __future__ import annotations

import email
import json
import re
import subprocess
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import TOWNHALL, _env
from tests.browser.support import (
    comment_box,
    comment_in,
    has_deep_focus,
    main_form,
    open_article,
)

pytestmark = pytest.mark.usefixtures("widget_available")

READER = "Grace Hopper"
EXPIRED = "This sign-in link has expired or was already used"
DELETED = "Your data has been deleted. You are signed out."
CLAIMED = re.compile(r"earlier comments? (is|are) now yours")
LINK = re.compile(r"https?://\S+#townhall-signin=[\w.:\-]+")


# The demo's publisher login, asked from the demo page (it answers its own origin only).
DEMO_TOKEN = """async (name) => {
    const response = await fetch("/demo/sso-token", { method: "POST",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name }) });
    return (await response.json()).token;
}"""


def publisher_sign_in(page, name: str = READER) -> None:
    """Signs in on the demo page's stand-in for the publisher's own login."""
    login = page.get_by_role("form", name="SouthFront login (demo)")
    login.get_by_role("textbox", name="Sign in to SouthFront as").fill(name)
    login.get_by_role("button", name="Sign in", exact=True).click()


def account_button(widget, name: str):
    return widget.locator("header.bar").get_by_role("button", name=name, exact=True)


def post(widget, body: str) -> None:
    comment_box(widget).fill(body)
    main_form(widget).get_by_role("button", name="Post Comment", exact=True).click()


def open_menu(widget, name: str):
    account_button(widget, name).click()
    menu = widget.get_by_role("list", name="Your account")
    expect(menu).to_be_visible()
    return menu


def signed_in_as(widget, name: str) -> None:
    expect(account_button(widget, name)).to_be_visible()
    form = main_form(widget)
    expect(form.get_by_text(f"Commenting as {name}", exact=True)).to_be_visible()
    expect(form.get_by_role("textbox", name="Name", exact=True)).to_have_count(0)


def signed_out(widget) -> None:
    expect(account_button(widget, "Sign in")).to_be_visible()
    expect(main_form(widget).get_by_role("textbox", name="Name", exact=True)).to_be_visible()


def magic_link(server, address: str) -> str:
    """Runs the worker once and returns the sign-in link of the newest email to ``address``."""
    env = _env(server.var_dir)
    env["TOWNHALL_PUBLIC_URL"] = server.base_url
    subprocess.run(  # noqa: S603 (the project's own console script)
        [TOWNHALL, "worker", "--batch", "--verbosity", "0"],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    for path in sorted(Path(server.var_dir, "mail").glob("*.log"), reverse=True):
        for raw in re.split(r"\n-{79}\n", path.read_text()):
            message = email.message_from_string(raw.strip())
            if address not in (message.get("To") or ""):
                continue
            for part in message.walk():
                if part.get_content_type() == "text/plain":
                    charset = part.get_content_charset() or "utf-8"
                    text = part.get_payload(decode=True).decode(charset)
                    found = LINK.search(text)
                    if found:
                        return found.group(0)
    raise AssertionError(f"no sign-in link was mailed to {address}")


def test_sso_sign_in_on_the_demo_page_and_comment_under_that_name(page, server):
    widget = open_article(page, server)
    signed_out(widget)
    publisher_sign_in(page)
    signed_in_as(widget, READER)
    kind = page.evaluate("() => JSON.parse(localStorage.getItem('townhall:session:demo')).kind")
    assert kind == "sso"

    post(widget, "Signed in through SouthFront.")
    mine = comment_in(widget, READER).filter(has_text="Signed in through SouthFront.")
    expect(mine).to_have_count(1)
    stored = server.find_comment(lambda c: "Signed in through SouthFront" in c["html"])
    assert stored is not None and stored["author_name"] == READER

    # The session survives a reload (the token is in the page's localStorage, no cookie).
    page.reload()
    signed_in_as(widget, READER)
    assert page.context.cookies() == []

    menu = open_menu(widget, READER)
    menu.get_by_role("button", name="Sign out", exact=True).click()
    signed_out(widget)
    expect(widget.get_by_role("status").filter(has_text="You are signed out.")).to_be_attached()
    assert page.evaluate("() => localStorage.getItem('townhall:session:demo')") is None
    page.reload()
    signed_out(widget)


def test_townhall_sign_in_from_a_publisher_page_script(page, server):
    widget = open_article(page, server)
    # The page's own script, once its reader has logged in with the publisher.
    token = page.evaluate(DEMO_TOKEN, "Ida Publisher")
    page.evaluate("(token) => Townhall.signIn(token)", token)
    signed_in_as(widget, "Ida Publisher")


def test_a_data_sso_token_signs_in_at_start(page, server):
    """A publisher page that knows its reader puts their token on the host element."""
    open_article(page, server)
    token = page.evaluate(DEMO_TOKEN, "Lin Publisher")
    url = server.url("/publisher-sso.html")
    html = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>SSO</title></head>
<body><div id="townhall" data-sso-token="{token}"></div>
<script src="{server.base_url}/embed.js" data-site="demo" data-url="{server.article_url}" async>
</script></body></html>"""
    page.route(url, lambda route: route.fulfill(status=200, content_type="text/html", body=html))
    page.goto(url)
    widget = page.locator("#townhall")
    signed_in_as(widget, "Lin Publisher")


def test_the_account_menu_by_keyboard(page, server):
    widget = open_article(page, server)
    publisher_sign_in(page)
    button = account_button(widget, READER)
    expect(button).to_have_attribute("aria-expanded", "false")
    button.focus()
    page.keyboard.press("Enter")
    expect(button).to_have_attribute("aria-expanded", "true")
    download = widget.get_by_role("button", name="Download my data", exact=True)
    expect(download).to_be_visible()
    assert has_deep_focus(download)
    controls = button.get_attribute("aria-controls")
    assert controls and widget.locator(f"#{controls}").is_visible()
    page.keyboard.press("Tab")
    assert has_deep_focus(widget.get_by_role("button", name="Delete my data…", exact=True))
    page.keyboard.press("Escape")
    expect(widget.get_by_role("list", name="Your account")).to_be_hidden()
    expect(button).to_have_attribute("aria-expanded", "false")
    assert has_deep_focus(button)
    # The sign-in form too: its first way in has the focus; Escape gives it back.
    page.keyboard.press("Enter")
    widget.get_by_role("list", name="Your account").get_by_role("button", name="Sign out").click()
    signed_out(widget)
    sign_in = account_button(widget, "Sign in")
    sign_in.focus()
    page.keyboard.press("Enter")
    sso = widget.get_by_role("button", name="Sign in with your SouthFront account", exact=True)
    expect(sso).to_be_visible()
    assert has_deep_focus(sso)
    page.keyboard.press("Tab")
    assert has_deep_focus(widget.get_by_role("textbox", name="Your email", exact=True))
    page.keyboard.press("Escape")
    expect(sso).to_be_hidden()
    assert has_deep_focus(sign_in)
    # "Sign in with SouthFront" leads to the publisher's login (here, on the page itself).
    page.keyboard.press("Enter")
    sso.click()
    assert has_deep_focus(page.get_by_role("textbox", name="Sign in to SouthFront as"))


def test_magic_link_sign_in_claim_download_and_delete(page, server, browser_errors):
    browser_errors.expect(r"401|400|Unauthorized")  # the link's second use
    widget = open_article(page, server)
    # First as a guest, with the email the reader then signs in with.
    form = main_form(widget)
    form.get_by_role("textbox", name="Name", exact=True).fill("Ada Lovelace")
    form.get_by_role("textbox", name="Email (optional)", exact=True).fill("ada@example.org")
    post(widget, "Written as a guest, claimed later.")
    expect(comment_in(widget, "Ada Lovelace")).to_have_count(1)

    account_button(widget, "Sign in").click()
    address = widget.get_by_role("textbox", name="Your email", exact=True)
    expect(address).to_have_value("ada@example.org")
    widget.get_by_role("button", name="Email me a sign-in link", exact=True).click()
    expect(widget.locator(".account-note")).to_have_text(
        "Check your inbox: we sent a sign-in link to ada@example.org."
    )
    assert has_deep_focus(account_button(widget, "Sign in"))

    link = magic_link(server, "ada@example.org")
    # Followed from the email: a new page load, not a change of fragment on this one.
    page.goto("about:blank")
    page.goto(link)
    # Out of the address at once, before the widget has even drawn.
    assert "townhall-signin" not in page.url
    signed_in_as(widget, "Ada Lovelace")
    assert "townhall-signin" not in page.evaluate("() => location.href")
    # Replies by email go to the account's confirmed address.
    notify = main_form(widget).get_by_role("checkbox", name="Notify me of replies to this comment")
    expect(notify).to_be_enabled()
    # The link works once.
    page.goto("about:blank")
    page.goto(link)
    expect(widget.get_by_role("alert").filter(has_text=EXPIRED)).to_be_visible()
    signed_in_as(widget, "Ada Lovelace")

    menu = open_menu(widget, "Ada Lovelace")
    menu.get_by_role("button", name="Claim my earlier comments", exact=True).click()
    expect(widget.get_by_role("status").filter(has_text=CLAIMED)).to_be_attached()

    post(widget, "Now signed in by email.")
    mine = comment_in(widget, "Ada Lovelace").filter(has_text="Now signed in by email.")
    expect(mine).to_have_count(1)

    # The menu stays open after the claim.
    expect(menu).to_be_visible()
    with page.expect_download() as info:
        widget.get_by_role("button", name="Download my data", exact=True).click()
    download = info.value
    assert download.suggested_filename == "townhall-demo-data.json"
    data = json.loads(Path(download.path()).read_text())
    dumped = json.dumps(data)
    assert "Now signed in by email." in dumped and "ada@example.org" in dumped

    widget.get_by_role("button", name="Delete my data…", exact=True).click()
    question = widget.get_by_role("group", name="Delete my data")
    expect(question).to_contain_text("This cannot be undone.")
    yes = question.get_by_role("button", name="Yes, delete my data", exact=True)
    assert has_deep_focus(yes)
    yes.click()
    signed_out(widget)
    expect(widget.get_by_role("status").filter(has_text=DELETED)).to_be_attached()
    # Gone or anonymized, by the site's policy; the name is nowhere.
    expect(comment_in(widget, "Ada Lovelace")).to_have_count(0)
    for comment in server.thread()["comments"]:
        assert comment.get("author_name") != "Ada Lovelace"
    assert page.evaluate("() => localStorage.getItem('townhall:token:demo')") is None


def test_the_fragment_is_removed_even_when_the_link_is_bad(page, server, browser_errors):
    browser_errors.expect(r"401|400|Unauthorized")
    page.goto(server.url("/") + "#townhall-signin=not-a-token")
    deadline = time.monotonic() + 5
    while "townhall-signin" in page.url and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "townhall-signin" not in page.url
    widget = page.locator("#townhall")
    expect(widget.get_by_role("alert").filter(has_text=EXPIRED)).to_be_visible()
    signed_out(widget)


def site_signin(server, *args: str) -> None:
    """Changes how readers of the demo site may comment (`townhall signin demo …`)."""
    subprocess.run(  # noqa: S603 (the project's own console script)
        [TOWNHALL, "signin", "demo", *args, "--verbosity", "0"],
        env=_env(server.var_dir),
        check=True,
        capture_output=True,
        timeout=60,
    )


def test_the_guest_form_follows_the_fields_the_site_requires(page, server):
    site_signin(server, "--guest-requires", "name,email")
    widget = open_article(page, server)
    form = main_form(widget)
    name = form.get_by_role("textbox", name="Name", exact=True)
    address = form.get_by_role("textbox", name="Email", exact=True)
    expect(address).to_be_visible()  # "Email", no longer "Email (optional)"
    expect(name).to_have_attribute("required", "")
    expect(address).to_have_attribute("required", "")
    before = server.thread()["thread"]["comment_count"]

    requests: list[str] = []
    page.on("request", lambda r: r.method == "POST" and requests.append(r.url))
    name.fill("Rosalind Franklin")
    post(widget, "Required fields first.")
    error = form.get_by_role("alert")
    expect(error).to_have_text("Please give your email address.")
    expect(address).to_have_attribute("aria-invalid", "true")
    assert has_deep_focus(address)
    assert not [url for url in requests if "/api/v1/comments" in url]

    # A reply checks the main form's fields too, and sends them.
    address.fill("rosalind@example.org")
    form.get_by_role("button", name="Post Comment", exact=True).click()
    expect(comment_in(widget, "Rosalind Franklin")).to_have_count(1)
    assert server.thread()["thread"]["comment_count"] == before + 1
    stored = server.find_comment(lambda c: "Required fields first" in c["html"])
    assert stored is not None and stored["author_name"] == "Rosalind Franklin"


def test_a_site_without_guests_asks_the_reader_to_sign_in(page, server):
    site_signin(server, "--methods", "email,sso")
    widget = open_article(page, server)
    form = main_form(widget)
    expect(form.get_by_text("Sign in to comment on this site.")).to_be_visible()
    expect(form.get_by_role("textbox", name="Name", exact=True)).to_have_count(0)
    post(widget, "A guest may not post here.")
    expect(form.get_by_role("alert")).to_have_text("Sign in to comment on this site.")
    # The sign-in form opens instead, its first way in focused.
    sso = widget.get_by_role("button", name="Sign in with your SouthFront account", exact=True)
    expect(sso).to_be_visible()
    assert has_deep_focus(sso)
    assert server.find_comment(lambda c: "A guest may not post here" in c["html"]) is None

    publisher_sign_in(page)
    signed_in_as(widget, READER)
    form.get_by_role("button", name="Post Comment", exact=True).click()
    expect(comment_in(widget, READER).filter(has_text="A guest may not post here.")).to_have_count(
        1
    )


def test_a_magic_link_opened_on_a_page_already_open(page, server):
    widget = open_article(page, server)
    account_button(widget, "Sign in").click()
    widget.get_by_role("textbox", name="Your email", exact=True).fill("kathy@example.org")
    widget.get_by_role("button", name="Email me a sign-in link", exact=True).click()
    expect(widget.locator(".account-note")).to_contain_text("kathy@example.org")
    link = magic_link(server, "kathy@example.org")
    # The same page, only its fragment changed (a link followed in the same tab).
    page.evaluate("(hash) => { location.hash = hash; }", link.split("#", 1)[1])
    signed_in_as(widget, "Reader")  # no name was given with the address
    assert "townhall-signin" not in page.evaluate("() => location.href")


def test_sign_in_before_the_widget_starts_and_no_guest_fields_for_a_returning_reader(
    page, server, browser_errors
):
    browser_errors.expect(r"embed-account|Event \(\)")  # account.js held back, below
    open_article(page, server)
    token = page.evaluate(DEMO_TOKEN, "Early Publisher")
    url = server.url("/publisher-early.html")
    # The publisher's script runs before the widget's host element exists.
    html = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Early</title>
<script src="{server.base_url}/embed.js" data-site="demo" data-url="{server.article_url}"></script>
<script>Townhall.signIn("{token}");</script></head>
<body><div id="townhall"></div></body></html>"""
    page.route(url, lambda route: route.fulfill(status=200, content_type="text/html", body=html))
    page.goto(url)
    widget = page.locator("#townhall")
    signed_in_as(widget, "Early Publisher")

    # Back with a session: the guest fields are never shown, even before account.js is there.
    page.route("**/embed-account.*.js", lambda route: route.abort())
    page.reload()
    expect(widget.get_by_role("heading", level=2)).to_be_visible()
    expect(main_form(widget).get_by_role("textbox", name="Name", exact=True)).to_have_count(0)
