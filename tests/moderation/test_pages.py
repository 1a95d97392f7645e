"""The moderators' pages (/moderate/), end to end: a logged-in moderator's browser without
JavaScript (forms, redirects, messages) and with it (the same forms answered in JSON), and what
readers see through the public API right after."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client, TestCase

from tests.conftest import ARTICLE
from townhall.discussions.models import Comment, CommentStatus
from townhall.moderation import actions, views
from townhall.moderation.models import AuditAction, AuditEntry, Ban, BanKind, SiteModerator
from townhall.sites.models import Site

pytestmark = pytest.mark.django_db

JSON = {"Accept": "application/json"}
PASSAGE = {
    "quote": {"exact": "the Incirlik airbase", "prefix": "use ", "suffix": " to fight"},
    "position": {"start": 40, "end": 60},
}
_addresses = iter(range(1, 60_000))


# ---- helpers --------------------------------------------------------------------------------


def comment(api, site: Site, body: str, *, remote_addr: str | None = None, **fields: Any) -> int:
    """A reader's comment through the public API; its id. Each from its own address unless
    told, so that the per-client rate limit never gets in the way."""
    if remote_addr is None:
        n = next(_addresses)
        remote_addr = f"10.{n // 65536}.{n // 256 % 256}.{n % 256}"
    payload = {"site": site.slug, "url": ARTICLE, "body": body, **fields}
    response = api.post("/api/v1/comments", payload, remote_addr=remote_addr)
    assert response.status_code in (201, 202), response.content
    return response.json()["comment"]["id"]


def submit(client: Client, path: str, data: dict | None = None, *, json: bool = False):
    """A form POST from the pages, committing as a real request would (thread versions are
    published on commit, so the public API shows the change at once)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(path, data or {}, headers=JSON if json else None)


def shown_ids(api, site: Site) -> list[int]:
    def walk(comments):
        for c in comments:
            yield c["id"]
            yield from walk(c["replies"])

    return list(walk(api.thread(site).json()["comments"]))


def status(comment_id: int) -> str:
    return Comment.objects.get(pk=comment_id).status


def decide(site: Site, comment_id: int) -> str:
    return f"/moderate/{site.slug}/comments/{comment_id}/decide/"


def html(response) -> str:
    return response.content.decode()


# ---- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def pre(make_site) -> Site:
    return make_site(slug="pre", name="Pre Example", moderation_mode="pre")


@pytest.fixture
def other(make_site) -> Site:
    return make_site(slug="other", name="Other Example", moderation_mode="pre")


@pytest.fixture
def moderator(pre):
    user = get_user_model().objects.create_user("mod", email="mod@news.example")
    actions.do_add_moderator(user, pre)
    return user


@pytest.fixture
def mod(moderator) -> Client:
    client = Client()
    client.force_login(moderator)
    return client


# ---- login, permissions ---------------------------------------------------------------------


def test_every_page_needs_a_login(client, pre, api):
    comment_id = comment(api, pre, "Waiting for someone.")
    for path in ("/moderate/", "/moderate/pre/", "/moderate/pre/log/", "/moderate/pre/rules/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/moderate/login/?next=")
    response = submit(client, decide(pre, comment_id), {"decision": "approve"})
    assert response.status_code == 302 and response["Location"].startswith("/moderate/login/")
    response = submit(client, decide(pre, comment_id), {"decision": "approve"}, json=True)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "login_required"
    assert status(comment_id) == CommentStatus.PENDING


def test_logging_in_and_out(client, pre, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user = get_user_model().objects.create_user("desk", password="correct horse")
    actions.do_add_moderator(user, pre)
    page = client.get("/moderate/login/")
    assert page.status_code == 200 and 'name="password"' in html(page)
    assert "script-src 'self'" in page["Content-Security-Policy"]

    wrong = client.post("/moderate/login/", {"username": "desk", "password": "nope"})
    assert wrong.status_code == 200 and "do not match" in html(wrong)
    right = client.post(
        "/moderate/login/",
        {"username": "desk", "password": "correct horse", "next": "/moderate/pre/log/"},
    )
    assert right.status_code == 302 and right["Location"] == "/moderate/pre/log/"
    # One site: the home page is that site's queue.
    assert client.get("/moderate/")["Location"] == "/moderate/pre/"
    assert client.get("/moderate/pre/").status_code == 200

    assert client.get("/moderate/logout/").status_code == 405  # GET never writes
    out = client.post("/moderate/logout/")
    assert out.status_code == 302 and out["Location"] == "/moderate/login/"
    assert client.get("/moderate/pre/").status_code == 302


def test_password_guesses_are_limited(client, pre, monkeypatch):
    monkeypatch.setattr(views, "LOGIN_RATE", "2/m")
    guess = {"username": "mod", "password": "guess"}
    assert [client.post("/moderate/login/", guess).status_code for _ in range(3)] == [200, 200, 429]
    assert "Too many requests" in html(client.post("/moderate/login/", guess))


def test_an_account_that_moderates_no_site_is_told_so(client, pre):
    client.force_login(get_user_model().objects.create_user("nobody"))
    for path in ("/moderate/", "/moderate/pre/", "/moderate/pre/bans/"):
        response = client.get(path)
        assert response.status_code == 403
        assert "moderates no site" in html(response)
        assert "townhall moderator add nobody --site" in html(response)


def test_a_moderator_of_one_site_sees_nothing_of_another(api, mod, pre, other, django_user_model):
    theirs = comment(api, other, "Held on the other site.", author_email="x@other.example")
    boss = django_user_model.objects.create_superuser("boss")
    ban = actions.do_ban(boss, other, kind=BanKind.EMAIL, value="y@other.example")
    entry = AuditEntry.objects.filter(site=other).latest("id")

    for path in ("", "search/?q=Held", "bans/", "log/", "rules/"):
        assert mod.get(f"/moderate/other/{path}").status_code == 404, path
    for slug in ("pre", "other"):  # through their own site's URL or another's
        for path, data in (
            (f"comments/{theirs}/decide/", {"decision": "approve"}),
            (f"comments/{theirs}/ban/", {"duration": "7d"}),
            (f"comments/{theirs}/feature/", {"featured": "1"}),
            (f"bans/{ban.pk}/lift/", {}),
            (f"undo/{entry.pk}/", {}),
        ):
            response = submit(mod, f"/moderate/{slug}/{path}", data, json=True)
            assert response.status_code == 404, (slug, path)
            assert response.json()["error"]["code"] in {
                "unknown_site",
                "comment_not_found",
                "ban_not_found",
                "entry_not_found",
            }
    bulk = submit(mod, "/moderate/pre/bulk/", {"decision": "approve", "comment": [theirs]})
    assert bulk.status_code == 404
    assert status(theirs) == CommentStatus.PENDING
    assert Ban.objects.get(pk=ban.pk).lifted is None
    assert not Ban.objects.filter(site=other, kind=BanKind.COMMENTER).exists()
    # Search never reaches across sites either.
    assert "Held on the other site" not in html(mod.get("/moderate/pre/search/?q=Held"))


def test_a_superuser_moderates_every_site(client, api, pre, other):
    client.force_login(get_user_model().objects.create_superuser("boss"))
    comment(api, other, "Something for the boss.")
    home = html(client.get("/moderate/"))
    assert "Pre Example" in home and "Other Example" in home
    assert "Something for the boss" in html(client.get("/moderate/other/"))


# ---- the queue ------------------------------------------------------------------------------


def test_the_queue_shows_what_a_moderator_needs(api, mod, pre, moderator):
    parent = comment(api, pre, "The first word.", author_name="Ada")
    actions.do_moderate_comment(moderator, Comment.objects.get(pk=parent), "approve")
    reply = comment(
        api,
        pre,
        "**Strong** words <script>alert(1)</script>",
        author_name="Ted Zah",
        author_email="ted@example.org",
        parent_id=parent,
    )
    about = comment(api, pre, "About that airbase.", passage=PASSAGE)
    page = mod.get("/moderate/pre/")
    text = html(page)
    assert page.status_code == 200
    assert "Ted Zah" in text and "ted@example.org" in text
    assert Comment.objects.get(pk=reply).client_fingerprint[:8] in text
    assert f'href="{ARTICLE}"' in text
    assert "<strong>Strong</strong>" in text  # the sanitized HTML, as HTML
    assert "<script>alert(1)" not in text and "&lt;script&gt;alert(1)" in text
    assert "The first word." in text  # what it answers
    assert "the Incirlik airbase" in text  # the passage it is about
    assert "Pre-moderation: the site pre-moderates every comment" in text  # why it waits
    assert "Toxicity 0." in text
    for comment_id in (reply, about):
        assert f'id="comment-{comment_id}"' in text
        assert f'action="/moderate/pre/comments/{comment_id}/decide/"' in text
    # Tabs with their counts.
    assert re.search(r'data-count="pending">2<', text)
    assert 'aria-keyshortcuts="a"' in text and 'id="shortcuts"' in text


def test_reported_comments_show_their_reports(api, make_site, moderator, mod):
    news = make_site(slug="reported")
    actions.do_add_moderator(moderator, news)
    comment_id = comment(api, news, "A contested opinion.")
    flag = {"reason": "abuse", "note": "Insults a reader"}
    api.post(f"/api/v1/comments/{comment_id}/flag", flag, remote_addr="10.9.9.9")
    text = html(mod.get("/moderate/reported/?queue=flagged"))
    assert "A contested opinion." in text
    assert "1 open report:" in text and "Abusive or hateful" in text and "Insults a reader" in text
    # Approving keeps it and settles the report: it leaves the reported queue.
    submit(mod, decide(news, comment_id), {"decision": "approve"})
    assert status(comment_id) == CommentStatus.VISIBLE
    assert "A contested opinion." not in html(mod.get("/moderate/reported/?queue=flagged"))


def test_the_queue_costs_the_same_queries_for_three_items_or_thirty(
    api, mod, pre, moderator, django_assert_max_num_queries
):
    parent = comment(api, pre, "Root of it all.")
    actions.do_moderate_comment(moderator, Comment.objects.get(pk=parent), "approve")

    def add(count: int) -> None:
        for n in range(count):
            extra = {"parent_id": parent} if n % 2 else {"passage": PASSAGE}
            comment(api, pre, f"Item {n} {count}", author_email=f"r{n}@example.org", **extra)

    add(3)
    with django_assert_max_num_queries(12) as few:
        assert mod.get("/moderate/pre/").status_code == 200
    queries = len(few)  # (read now: the next requests reset the connection's log)
    add(27)
    with django_assert_max_num_queries(queries):
        page = mod.get("/moderate/pre/")
    assert html(page).count('class="item"') == 30


def test_the_queue_is_paged(api, mod, pre, monkeypatch):
    monkeypatch.setattr(views, "PER_PAGE", 2)
    ids = [comment(api, pre, f"Number {n}.") for n in range(3)]
    first, second = html(mod.get("/moderate/pre/")), html(mod.get("/moderate/pre/?page=2"))
    assert f"comment-{ids[0]}" in first and f"comment-{ids[2]}" not in first
    assert f"comment-{ids[2]}" in second and "Page 2 of 2" in second
    assert mod.get("/moderate/pre/?queue=nonsense").status_code == 404


# ---- actions --------------------------------------------------------------------------------


def test_approving_shows_the_comment_at_once_and_is_audited(api, mod, pre, moderator):
    comment_id = comment(api, pre, "Let me in.", author_name="Ada")
    assert shown_ids(api, pre) == []
    response = submit(
        mod, decide(pre, comment_id), {"decision": "approve", "next": "/moderate/pre/"}
    )
    assert response.status_code == 302 and response["Location"] == "/moderate/pre/"
    assert status(comment_id) == CommentStatus.VISIBLE
    assert shown_ids(api, pre) == [comment_id]
    entry = AuditEntry.objects.get(action=AuditAction.APPROVE)
    assert (entry.actor, entry.comment_id, entry.from_status, entry.to_status) == (
        moderator,
        comment_id,
        "pending",
        "visible",
    )
    # Back on the queue: the message, with its Undo button.
    page = html(mod.get("/moderate/pre/"))
    assert "Approved the comment by Ada." in page
    assert f'action="/moderate/pre/undo/{entry.pk}/"' in page
    assert "Let me in." not in page.split('role="status"')[0]  # it left the queue


def test_rejecting_and_spam_remove_a_visible_comment_at_once(api, make_site, moderator, mod):
    news = make_site(slug="post")
    actions.do_add_moderator(moderator, news)
    first, second = comment(api, news, "Visible one."), comment(api, news, "Visible two.")
    assert sorted(shown_ids(api, news)) == [first, second]
    submit(mod, decide(news, first), {"decision": "reject"})
    submit(mod, decide(news, second), {"decision": "spam"})
    assert (status(first), status(second)) == (CommentStatus.REJECTED, CommentStatus.SPAM)
    assert shown_ids(api, news) == []
    assert api.thread(news).json()["thread"]["comment_count"] == 0
    assert "Visible one." in html(mod.get("/moderate/post/?queue=rejected"))
    assert "Visible two." in html(mod.get("/moderate/post/?queue=spam"))


def test_featuring_and_unfeaturing(api, mod, pre, moderator):
    comment_id = comment(api, pre, "An editor's pick.")
    refused = submit(
        mod, f"/moderate/pre/comments/{comment_id}/feature/", {"featured": "1"}, json=True
    )
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_visible"
    submit(mod, decide(pre, comment_id), {"decision": "approve"})
    answer = submit(
        mod, f"/moderate/pre/comments/{comment_id}/feature/", {"featured": "1"}, json=True
    )
    assert answer.json()["comments"] == [
        {"id": comment_id, "status": "visible", "featured": True, "open_flags": 0}
    ]
    assert api.thread(pre).json()["comments"][0]["featured"] is True
    submit(mod, f"/moderate/pre/comments/{comment_id}/feature/", {"featured": "0"})
    assert api.thread(pre).json()["comments"][0]["featured"] is False
    assert list(
        AuditEntry.objects.filter(comment_id=comment_id, actor=moderator)
        .order_by("id")
        .values_list("action", flat=True)
    ) == [AuditAction.APPROVE, AuditAction.FEATURE, AuditAction.UNFEATURE]


def test_bulk_decisions(api, mod, pre):
    ids = [comment(api, pre, f"Bulk {n}.") for n in range(3)]
    response = submit(mod, "/moderate/pre/bulk/", {"decision": "approve", "comment": ids[:2]})
    assert response.status_code == 302
    assert [status(i) for i in ids] == ["visible", "visible", "pending"]
    assert sorted(shown_ids(api, pre)) == ids[:2]
    answer = submit(mod, "/moderate/pre/bulk/", {"decision": "spam", "comment": ids[2:]}, json=True)
    assert answer.json()["message"] == "Marked 1 comment as spam."
    assert status(ids[2]) == CommentStatus.SPAM
    nothing = submit(mod, "/moderate/pre/bulk/", {"decision": "approve"}, json=True)
    assert nothing.status_code == 400
    assert nothing.json()["error"]["message"] == "Select some comments first."


def test_undo_puts_things_back(api, mod, pre):
    ids = [comment(api, pre, f"Undo me {n}.") for n in range(2)]
    answer = submit(mod, "/moderate/pre/bulk/", {"decision": "approve", "comment": ids}, json=True)
    first, *others = answer.json()["entries"]
    assert sorted(shown_ids(api, pre)) == sorted(ids)
    undone = submit(mod, f"/moderate/pre/undo/{first}/", {"entry": others}, json=True)
    assert undone.status_code == 200 and undone.json()["message"] == "Undone."
    assert [status(i) for i in ids] == ["pending", "pending"]
    assert shown_ids(api, pre) == []
    assert AuditEntry.objects.filter(action=AuditAction.UNDO).count() == 2
    again = submit(mod, f"/moderate/pre/undo/{first}/", json=True)
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_undone"
    # Without JavaScript, the refusal is a message on the page it came from.
    page = submit(mod, f"/moderate/pre/undo/{first}/", {"next": "/moderate/pre/log/"})
    assert page["Location"] == "/moderate/pre/log/"
    assert "That was undone already." in html(mod.get("/moderate/pre/log/"))


def test_banning_the_author_refuses_their_next_comment_until_undone(api, mod, pre):
    who = {"author_name": "Troll", "author_email": "troll@example.org", "remote_addr": "10.6.6.6"}
    comment_id = comment(api, pre, "Something nasty.", **who)
    answer = submit(
        mod, f"/moderate/pre/comments/{comment_id}/ban/", {"duration": "forever"}, json=True
    )
    body = answer.json()
    assert answer.status_code == 200 and body["ok"] is True
    assert body["message"] == "Banned Troll (for good) and rejected the comment."
    assert status(comment_id) == CommentStatus.REJECTED
    bans = Ban.objects.filter(site=pre)
    assert sorted(bans.values_list("kind", flat=True)) == ["client", "commenter", "email"]
    assert len(body["entries"]) == 4  # three bans and the rejection, undone together

    payload = {"site": "pre", "url": ARTICLE, "body": "Me again.", **who}
    payload.pop("remote_addr")
    refused = api.post("/api/v1/comments", payload, remote_addr="10.6.6.6")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "banned"
    elsewhere = api.post("/api/v1/comments", payload, remote_addr="10.7.7.7")  # same email
    assert elsewhere.status_code == 403

    first, *others = body["entries"]
    submit(mod, f"/moderate/pre/undo/{first}/", {"entry": others})
    assert status(comment_id) == CommentStatus.PENDING
    assert all(ban.lifted for ban in bans)
    assert api.post("/api/v1/comments", payload, remote_addr="10.6.6.6").status_code == 202


def test_json_answers_for_the_script(api, mod, pre):
    comment_id = comment(api, pre, "Through fetch.")
    answer = submit(mod, decide(pre, comment_id), {"decision": "reject"}, json=True)
    assert answer.status_code == 200 and answer["Content-Type"] == "application/json"
    body = answer.json()
    entry = AuditEntry.objects.get(action=AuditAction.REJECT)
    assert body == {
        "ok": True,
        "entries": [entry.pk],
        "message": "Rejected the comment by Anonymous.",
        "comments": [{"id": comment_id, "status": "rejected", "featured": False, "open_flags": 0}],
        "undo_url": f"/moderate/pre/undo/{entry.pk}/",
    }
    bad = submit(mod, decide(pre, comment_id), {"decision": "delete"}, json=True)
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "decision"
    missing = submit(mod, decide(pre, 999_999), {"decision": "approve"}, json=True)
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {"code": "comment_not_found", "message": "There is no such comment on this site."}
    }
    # JSON answers leave no message behind for the next page.
    assert "Rejected the comment" not in html(mod.get("/moderate/pre/"))


def test_actions_need_post_and_csrf(api, pre, moderator):
    comment_id = comment(api, pre, "Guarded.")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(moderator)
    assert browser.get(decide(pre, comment_id)).status_code == 405
    forged = submit(browser, decide(pre, comment_id), {"decision": "approve"})
    assert forged.status_code == 403
    assert status(comment_id) == CommentStatus.PENDING
    page = html(browser.get("/moderate/pre/"))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token is not None
    data = {"decision": "approve", "csrfmiddlewaretoken": token.group(1)}
    assert submit(browser, decide(pre, comment_id), data).status_code == 302
    assert status(comment_id) == CommentStatus.VISIBLE


def test_every_page_sends_strict_security_headers(api, mod, pre):
    comment(api, pre, "Headers.")
    for path in ("/moderate/pre/", "/moderate/pre/search/?q=x", "/moderate/pre/bans/",
                 "/moderate/pre/log/", "/moderate/pre/rules/", "/moderate/nope/"):  # fmt: skip
        response = mod.get(path)
        csp = response["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp, path
        assert "frame-ancestors 'none'" in csp and "connect-src 'self'" in csp
        assert response["Referrer-Policy"] == "same-origin"
        assert response["Cache-Control"] == "no-store"
    page = html(mod.get("/moderate/pre/"))
    assert "<script>" not in page and " style=" not in page and "onclick" not in page
    script = re.search(r'<script src="(/moderate/assets/moderate\.[0-9a-f]{16}\.js)"', page)
    style = re.search(r'href="(/moderate/assets/moderate\.[0-9a-f]{16}\.css)"', page)
    assert script and style
    js = Client().get(script.group(1))
    assert js.status_code == 200 and js["Content-Type"].startswith("text/javascript")
    assert "immutable" in js["Cache-Control"]
    assert Client().get(style.group(1))["Content-Type"].startswith("text/css")


# ---- search, bans, log, rules ----------------------------------------------------------------


def test_search_finds_by_text_and_email(api, mod, pre):
    one = comment(api, pre, "Pipelines and pipes.", author_email="pat@example.org")
    two = comment(api, pre, "Nothing to see.", author_email="sam@example.org")
    by_text = html(mod.get("/moderate/pre/search/", {"q": "pipes"}))
    assert f"comment-{one}" in by_text and f"comment-{two}" not in by_text
    by_email = html(mod.get("/moderate/pre/search/", {"q": "SAM@example.org"}))
    assert f"comment-{two}" in by_email and f"comment-{one}" not in by_email
    assert f'action="/moderate/pre/comments/{two}/decide/"' in by_email  # same buttons
    visible = html(mod.get("/moderate/pre/search/", {"q": "", "status": "visible"}))
    assert f"comment-{one}" not in visible and "0 comments" in visible


def test_bans_page_adds_and_lifts_bans(api, mod, pre):
    page = mod.get("/moderate/pre/bans/")
    assert page.status_code == 200 and "No one is banned" in html(page)
    data = {"kind": "email", "value": " Spam@Example.org ", "duration": "30d", "reason": "spam"}
    response = submit(mod, "/moderate/pre/bans/", data)
    assert response.status_code == 302
    ban = Ban.objects.get(site=pre)
    assert (ban.kind, ban.value, ban.reason) == ("email", "spam@example.org", "spam")
    text = html(mod.get("/moderate/pre/bans/"))
    assert "spam@example.org" in text and "In force" in text
    payload = {"site": "pre", "url": ARTICLE, "body": "Buy now", "author_email": "spam@example.org"}
    assert api.post("/api/v1/comments", payload).status_code == 403

    submit(mod, f"/moderate/pre/bans/{ban.pk}/lift/")
    assert Ban.objects.get(pk=ban.pk).lifted is not None
    assert "Lifted" in html(mod.get("/moderate/pre/bans/"))
    assert api.post("/api/v1/comments", payload).status_code == 202

    refused = submit(mod, "/moderate/pre/bans/", {"kind": "email", "value": " ", "duration": "1d"})
    assert refused.status_code == 400 and "This field is required." in html(refused)
    wrong = submit(mod, "/moderate/pre/bans/", {"kind": "ip", "value": "1.2.3.4", "duration": "1d"})
    assert wrong.status_code == 400 and Ban.objects.count() == 1


def test_the_log_says_who_did_what_and_offers_undo(api, mod, pre):
    comment_id = comment(api, pre, "Logged comment.")
    submit(mod, decide(pre, comment_id), {"decision": "approve"})
    text = html(mod.get("/moderate/pre/log/"))
    approve = AuditEntry.objects.get(action=AuditAction.APPROVE)
    hold = AuditEntry.objects.get(action=AuditAction.HOLD)
    assert "pipeline" in text and "mod" in text
    assert "Held by the pipeline" in text and "Approved" in text
    assert "pending → visible" in text and "Logged comment." in text
    assert f'action="/moderate/pre/undo/{approve.pk}/"' in text
    assert f'action="/moderate/pre/undo/{hold.pk}/"' not in text  # a new comment's hold

    submit(mod, f"/moderate/pre/undo/{approve.pk}/", {"next": "/moderate/pre/log/"})
    text = html(mod.get("/moderate/pre/log/"))
    assert "undone" in text and f'action="/moderate/pre/undo/{approve.pk}/"' not in text
    assert f'undoes <a href="#entry-{approve.pk}">' in text


def test_rules_form_saves_and_refuses_bad_values(mod, pre):
    page = mod.get("/moderate/pre/rules/")
    assert page.status_code == 200 and 'name="suspect_words"' in html(page)
    rules = {
        "banned_words": "idiot\n  moron  \n\n",
        "suspect_words": "airbase\nfree money",
        "max_links": "2",
        "toxicity_threshold": "0.8",
        "new_commenter_burst": "4",
        "flag_threshold": "2",
        "akismet_key": "",
    }
    assert submit(mod, "/moderate/pre/rules/", rules).status_code == 302
    pre.refresh_from_db()
    assert pre.banned_words == ["idiot", "moron"]
    assert pre.suspect_words == ["airbase", "free money"]
    assert (pre.max_links, pre.toxicity_threshold, pre.flag_threshold) == (2, 0.8, 2)
    assert "free money" in html(mod.get("/moderate/pre/rules/"))

    for field, value, message in (
        ("max_links", "500", "max_links is a whole number from 0 to 100."),
        ("max_links", "two", "Enter a whole number."),
        ("toxicity_threshold", "0", "toxicity_threshold is above 0 and at most 1"),
        ("akismet_key", "not a key!", "That is not an Akismet key."),
        ("flag_threshold", "", "This field is required."),
    ):
        refused = submit(mod, "/moderate/pre/rules/", {**rules, field: value})
        assert refused.status_code == 400, field
        assert message in html(refused) and "Nothing was saved" in html(refused)
    pre.refresh_from_db()
    assert (pre.max_links, pre.akismet_key, pre.flag_threshold) == (2, "", 2)


def test_suspect_words_from_the_rules_page_hold_comments(api, mod, make_site, moderator):
    news = make_site(slug="words")  # post-moderated
    actions.do_add_moderator(moderator, news)
    rules = {"suspect_words": "airbase", "max_links": 3, "toxicity_threshold": 1,
             "new_commenter_burst": 0, "flag_threshold": 3}  # fmt: skip
    submit(mod, "/moderate/words/rules/", rules)
    comment_id = comment(api, news, "What about the airbase?")
    assert status(comment_id) == CommentStatus.PENDING
    assert "Suspect word: airbase" in html(mod.get("/moderate/words/"))


# ---- the command ----------------------------------------------------------------------------


def run(*args: str, stdin: str | None = None) -> str:
    out = io.StringIO()
    options: dict[str, Any] = {"stdout": out}
    if stdin is not None:
        options["stdin"] = io.StringIO(stdin)
    call_command("moderator", *args, **options)
    return out.getvalue()


def test_the_moderator_command(pre, other, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    said = run("add", "desk", "--site", "pre", "--email", "desk@news.example", "--password-stdin",
               stdin="s3cret words\n")  # fmt: skip
    assert said.strip() == "desk (new account) moderates 'pre'."
    desk = get_user_model().objects.get(username="desk")
    assert desk.check_password("s3cret words") and desk.email == "desk@news.example"
    assert run("add", "desk", "--site", "other").strip() == "desk moderates 'other'."
    assert desk.check_password("s3cret words")  # an existing account keeps its password
    get_user_model().objects.create_superuser("boss")
    assert run("list").splitlines() == [
        "desk\tother",
        "desk\tpre",
        "boss\t(every site: superuser)",
    ]
    assert run("remove", "desk", "--site", "other").strip() == "desk no longer moderates 'other'."
    assert list(SiteModerator.objects.values_list("site__slug", flat=True)) == ["pre"]

    with pytest.raises(CommandError, match=r"There is no site 'nope' \(sites: other, pre\)"):
        run("add", "desk", "--site", "nope")
    with pytest.raises(CommandError, match="does not moderate 'other'"):
        run("remove", "desk", "--site", "other")
    with pytest.raises(CommandError, match="There is no account 'ghost'"):
        run("remove", "ghost", "--site", "pre")
    with pytest.raises(CommandError, match="--password-stdin"):
        run("add", "newbie", "--site", "pre", stdin="")  # not a terminal: no prompt
    with pytest.raises(CommandError, match="The password is empty"):
        run("add", "newbie", "--site", "pre", "--password-stdin", stdin="\n")
    assert not get_user_model().objects.filter(username="newbie").exists()


def test_the_demo_makes_a_moderator_once(client, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    out = io.StringIO()
    call_command("demo", "--port", "8123", stdout=out)
    said = re.search(r"^Moderation: http://127\.0\.0\.1:8123/moderate/ as moderator / (\S+)$",
                     out.getvalue(), re.M)  # fmt: skip
    assert said is not None, out.getvalue()
    password_file = tmp_path / "demo-moderator-password"
    assert password_file.read_text().strip() == said.group(1)
    assert password_file.stat().st_mode & 0o777 == 0o600

    again = io.StringIO()
    call_command("demo", "--port", "8123", stdout=again)
    assert said.group(1) not in again.getvalue()  # shown once; the file keeps it
    assert f"as moderator (password in {password_file})" in again.getvalue()
    assert client.login(username="moderator", password=said.group(1))
    assert client.get("/moderate/")["Location"] == "/moderate/demo/"
