"""Each reader's own data: claiming guest comments, export, deletion that leaves nothing.

The deletion test scans every column of every table for the reader's name and email.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from tests.conftest import ORIGIN
from tests.identity.conftest import hs_token, run_worker, sso
from tests.notifications.conftest import csrf_token
from townhall.discussions.models import Comment, CommentStatus, Vote
from townhall.identity.models import Commenter
from townhall.moderation.actions import do_add_moderator
from townhall.sites.actions import do_set_sign_in
from townhall.support.actions import do_create_campaign, do_record_contribution
from townhall.support.models import Checkout, ContributionSource

pytestmark = pytest.mark.django_db(transaction=True)

NAME = "Zyxwvut Qwerty"
EMAIL = "zyxwvut@example.test"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sign_in_by_link(api, site, mailbox) -> str:
    body = {"site": site.slug, "email": EMAIL, "name": NAME, "return_url": f"{ORIGIN}/a/"}
    assert api.post("/api/v1/auth/magic-link", body).status_code == 202
    run_worker()
    token = re.search(r"#townhall-signin=(\S+)", mailbox.to(EMAIL)[-1].text).group(1)
    response = api.post("/api/v1/auth/magic-link/verify", {"site": site.slug, "token": token})
    assert response.status_code == 200, response.json()
    return response.json()["session_token"]


def leave_traces(api, site, mailbox) -> tuple[str, dict]:
    """A reader who commented as a guest, then signed in, commented, voted, reported,
    subscribed and gave. Returns their session token and what they touched."""
    other = api.comment(site, "Somebody else's comment.", author_name="Other Person").json()
    guest = api.comment(site, "As a guest, before.", author_name=NAME, author_email=EMAIL)
    assert guest.status_code == 201
    session = sign_in_by_link(api, site, mailbox)
    mine = api.comment(site, "Signed in now.", token=session).json()["comment"]
    reply = api.comment(site, "A reply.", token=session, parent_id=other["comment"]["id"])
    assert reply.status_code == 201
    vote = api.post(f"/api/v1/comments/{other['comment']['id']}/vote", {"value": 1}, token=session)
    assert vote.status_code == 200
    api.post(f"/api/v1/comments/{other['comment']['id']}/flag", {"reason": "spam"}, token=session)
    subscribed = api.post(
        "/api/v1/subscriptions", {"site": site.slug, "url": f"{ORIGIN}/a/", "email": EMAIL}
    )
    assert subscribed.status_code == 202, subscribed.json()
    run_worker()
    campaign = do_create_campaign(
        site, slug="fund", title="Fund us", currency="EUR", goal=1000, checkout=Checkout.TEST
    )
    do_record_contribution(
        campaign,
        amount=500,
        currency="EUR",
        source=ContributionSource.TEST,
        commenter=Commenter.objects.get(kind="email"),
        show_badge=True,
    )
    return session, {"other": other["comment"]["id"], "mine": mine["id"]}


@pytest.fixture
def reader_site(make_site):
    return do_set_sign_in(make_site(slug="data-news"), methods=["guest", "email"])


def test_export_holds_everything(api, mailbox, reader_site):
    session, ids = leave_traces(api, reader_site, mailbox)
    response = api.get("/api/v1/me/export", site=reader_site.slug, headers=bearer(session))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    data = response.json()
    assert {identity["email"] for identity in data["identities"]} == {EMAIL}
    bodies = {comment["body"] for comment in data["comments"]}
    assert bodies == {"As a guest, before.", "Signed in now.", "A reply."}
    assert all(comment["html"] and comment["url"] for comment in data["comments"])
    assert [vote["comment_id"] for vote in data["votes"]] == [ids["other"]]
    assert data["subscriptions"] and data["subscriptions"][0]["email"] == EMAIL
    assert data["contributions"][0]["amount_minor"] == 500
    assert api.get("/api/v1/me/export", site=reader_site.slug).status_code == 401


def test_claim_moves_guest_comments(api, mailbox, reader_site):
    api.comment(reader_site, "Guest one.", author_name=NAME, author_email=EMAIL)
    by_token = api.comment(reader_site, "Guest two.", author_name="Other Me").json()
    session = sign_in_by_link(api, reader_site, mailbox)
    response = api.post(
        "/api/v1/me/claim",
        {"site": reader_site.slug, "edit_token": by_token["edit_token"]},
        token=session,
    )
    assert response.status_code == 200 and response.json() == {"claimed": 2}
    me = Commenter.objects.get(kind="email")
    assert set(Comment.objects.filter(author=me).values_list("body", flat=True)) == {
        "Guest one.",
        "Guest two.",
    }


def _traces(needles: list[str]) -> list[str]:
    """Every (table, column) where any needle appears, case aside."""
    found = []
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {quote(table)} WHERE 1 = 0")  # noqa: S608
            columns = [column[0] for column in cursor.description]
            for column in columns:
                for needle in needles:
                    cursor.execute(
                        f"SELECT COUNT(*) FROM {quote(table)} "  # noqa: S608
                        f"WHERE LOWER(CAST({quote(column)} AS TEXT)) LIKE %s",
                        [f"%{needle.lower()}%"],
                    )
                    if cursor.fetchone()[0]:
                        found.append(f"{table}.{column} has {needle!r}")
    return found


@pytest.mark.parametrize("policy", ["placeholder", "anonymize"])
def test_deletion_leaves_nothing_that_identifies_the_reader(api, mailbox, reader_site, policy):
    do_set_sign_in(reader_site, deletion_policy=policy)
    session, ids = leave_traces(api, reader_site, mailbox)
    assert _traces([NAME, EMAIL])  # the scan finds them while they are there
    refused = api.delete(f"/api/v1/me?site={reader_site.slug}", token=session)
    assert refused.status_code == 422
    response = api.request(
        "DELETE", f"/api/v1/me?site={reader_site.slug}", {"confirm": True}, token=session
    )
    assert response.status_code == 200, response.json()
    assert response.json() == {"comments": 3, "votes": 1, "subscriptions": 1}
    assert _traces([NAME, EMAIL, "zyxwvut"]) == []
    other = Comment.objects.get(pk=ids["other"])
    assert (other.upvotes, other.score) == (0, 0)
    assert not Vote.objects.exists()
    mine = Comment.objects.get(pk=ids["mine"])
    assert mine.author_id is None
    if policy == "placeholder":
        assert mine.status == CommentStatus.DELETED and mine.body == ""
    else:
        assert mine.author_name == "Anonymous" and mine.body == "Signed in now."
    gone = api.get("/api/v1/me", site=reader_site.slug, headers=bearer(session))
    assert gone.status_code == 401
    thread = api.thread(reader_site, url=f"{ORIGIN}/a/")
    assert NAME not in thread.content.decode()


def test_staff_find_export_and_delete_a_reader(api, mailbox, reader_site, make_site):
    leave_traces(api, reader_site, mailbox)
    staff = get_user_model().objects.create_user("staff", password="pw-staff-123456")
    do_add_moderator(staff, reader_site)
    elsewhere = get_user_model().objects.create_user("elsewhere", password="pw-else-123456")
    do_add_moderator(elsewhere, make_site(slug="unrelated"))
    reader = Commenter.objects.get(kind="email")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff)
    page = browser.get(f"/moderate/{reader_site.slug}/readers/", {"q": EMAIL})
    assert page.status_code == 200 and NAME in page.content.decode()
    export = browser.get(f"/moderate/{reader_site.slug}/readers/{reader.pk}/export/")
    assert export.status_code == 200 and export["Content-Disposition"].startswith("attachment")
    assert export.json()["identities"][0]["email"] == EMAIL
    stranger = Client()
    stranger.force_login(elsewhere)
    assert stranger.get(
        f"/moderate/{reader_site.slug}/readers/{reader.pk}/export/"
    ).status_code in (
        403,
        404,
    )
    delete_path = f"/moderate/{reader_site.slug}/readers/{reader.pk}/delete/"
    no_csrf = browser.post(delete_path, {"confirm": "yes"})
    assert no_csrf.status_code == 403  # CSRF enforced on the cookie-authenticated write
    assert Commenter.objects.filter(pk=reader.pk).exists()
    token = csrf_token(page.content.decode())
    deleted = browser.post(delete_path, {"confirm": "yes", "csrfmiddlewaretoken": token})
    assert deleted.status_code == 302
    assert not Commenter.objects.filter(email__iexact=EMAIL).exists()
    assert _traces([NAME, EMAIL]) == []


def test_sso_moderator_deleted_takes_the_staff_account(api, make_site):
    site = do_set_sign_in(
        make_site(slug="sso-data"),
        methods=["sso"],
        sso_algorithm="HS256",
        sso_secret="s" * 40,
    )
    body = sso(
        api, site, hs_token(site, secret="s" * 40, name=NAME, email=EMAIL, roles=["moderator"])
    ).json()
    assert body["commenter"]["moderator"] is True
    response = api.request(
        "DELETE", f"/api/v1/me?site={site.slug}", {"confirm": True}, token=body["session_token"]
    )
    assert response.status_code == 200
    assert _traces([NAME, EMAIL]) == []
