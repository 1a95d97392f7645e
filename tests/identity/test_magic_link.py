"""Sign-in by an emailed link, end to end: the API, `townhall worker`, a real SMTP server."""

from __future__ import annotations

import re

import pytest
from django.core import signing

from tests.conftest import ARTICLE, ORIGIN
from tests.identity.conftest import run_worker
from townhall.identity.magic import SALT
from townhall.identity.models import Commenter, CommenterKind
from townhall.sites.actions import do_set_sign_in

pytestmark = pytest.mark.django_db(transaction=True)

ADDRESS = "reader@example.test"


@pytest.fixture
def email_site(make_site):
    return do_set_sign_in(make_site(slug="mail-news"), methods=["guest", "email"])


def ask(api, site, address=ADDRESS, **fields):
    body = {"site": site.slug, "email": address, "return_url": ARTICLE, **fields}
    return api.post("/api/v1/auth/magic-link", body, origin=ORIGIN)


def mailed_token(mailbox, address=ADDRESS) -> str:
    mails = mailbox.to(address)
    assert mails, "no sign-in mail"
    match = re.search(r"#townhall-signin=([^\s\"<]+)", mails[-1].text)
    assert match, mails[-1].text
    assert mails[-1].text.count(ARTICLE + "#townhall-signin=") == 1  # back to the article
    return match.group(1)


def verify(api, site, token):
    return api.post("/api/v1/auth/magic-link/verify", {"site": site.slug, "token": token})


def test_magic_link_end_to_end(api, mailbox, email_site):
    response = ask(api, email_site, name="Mia Mail")
    assert response.status_code == 202 and response.json() == {"status": "accepted"}
    assert len(mailbox) == 0  # sent by the worker, not the request
    run_worker()
    token = mailed_token(mailbox)
    signed_in = verify(api, email_site, token)
    assert signed_in.status_code == 200, signed_in.json()
    commenter = signed_in.json()["commenter"]
    assert (commenter["kind"], commenter["email"], commenter["name"]) == (
        "email",
        ADDRESS,
        "Mia Mail",
    )
    assert commenter["email_confirmed"] is True
    # Single use.
    again = verify(api, email_site, token)
    assert again.status_code == 401 and again.json()["error"]["code"] == "link_used"
    # A second link signs in to the same identity, on another device.
    ask(api, email_site)
    run_worker()
    other_device = verify(api, email_site, mailed_token(mailbox)).json()
    assert other_device["commenter"]["id"] == commenter["id"]
    assert Commenter.objects.filter(kind=CommenterKind.EMAIL).count() == 1
    posted = api.comment(email_site, "By link.", token=other_device["session_token"])
    assert posted.status_code == 201 and posted.json()["comment"]["author_name"] == "Mia Mail"


def test_answer_is_the_same_for_any_address_and_limited(api, mailbox, email_site):
    first = ask(api, email_site, "someone@example.test")
    second = ask(api, email_site, "nobody-known@example.test")
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    codes = [ask(api, email_site, "someone@example.test").status_code for _ in range(3)]
    assert codes[-1] == 429  # per address


def test_bad_requests_are_refused(api, mailbox, email_site, site):
    outside = ask(api, email_site, return_url="https://evil.example/phish")
    assert outside.status_code == 400 and outside.json()["error"]["code"] == "bad_return_url"
    not_enabled = ask(api, site)
    assert not_enabled.status_code == 403
    assert verify(api, email_site, "forged").json()["error"]["code"] == "invalid_link"
    run_worker()
    assert len(mailbox) == 0


def test_expired_and_other_site_links_are_refused(api, mailbox, email_site, make_site):
    other = do_set_sign_in(make_site(slug="other-mail"), methods=["email"])
    ask(api, other)
    run_worker()
    theirs = mailed_token(mailbox)
    wrong = verify(api, email_site, theirs)
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "link_wrong_site"
    old = signing.TimestampSigner(salt=SALT)
    payload = {"s": email_site.pk, "e": ADDRESS, "m": "", "n": "x"}
    expired = signing.dumps(payload, salt=SALT, compress=True)
    import time
    from unittest import mock

    with mock.patch("django.core.signing.time.time", return_value=time.time() + 16 * 60):
        late = verify(api, email_site, expired)
    assert late.status_code == 401 and late.json()["error"]["code"] == "link_expired"
    assert old  # the signer is the one Django uses
