"""What a notification looks like, and the links in it: unsubscribe (the page and one-click),
the manage page, and what bad links get."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.conftest import ARTICLE
from tests.notifications.conftest import (
    OTHER_ARTICLE,
    PUBLIC_URL,
    Mail,
    csrf_token,
    path_of,
    post,
    run_worker,
    subscribe,
    subscribe_confirmed,
)
from townhall.notifications.models import Frequency, Subscriber, Subscription

pytestmark = pytest.mark.django_db(transaction=True)

READER = "reader@example.com"


def notify(api, site, mailbox, body: str = "Something worth reading.", **fields) -> Mail:
    """Posts a comment and returns the one notification the reader got about it."""
    before = len(mailbox.to(READER))
    post(api, site, body, **fields)
    run_worker()
    mails = mailbox.to(READER)
    assert len(mails) == before + 1
    return mails[-1]


def unsubscribe_url(mail: Mail) -> str:
    header = str(mail.message["List-Unsubscribe"]).strip()  # a long header may be folded
    match = re.fullmatch(r"<(https://[^>]+)>", header)
    assert match, header
    return match.group(1)


def test_a_notification(api, site, mailbox):
    subscribe_confirmed(api, mailbox, site, READER)
    mailbox.clear()
    body = 'Tom & Jerry say 5 < 6 and *that* is "news".\n\nA second paragraph.'
    comment = post(api, site, body, author_name="Ann O'Neil")
    run_worker()
    [mail] = mailbox.to(READER)

    assert mail.message.get_content_type() == "multipart/alternative"
    assert mail.message["Auto-Submitted"] == "auto-generated"
    assert mail.recipients == [READER]
    assert "Ann O'Neil" in mail.subject

    link = f"{ARTICLE}#comment-{comment['id']}"
    excerpt = 'Tom & Jerry say 5 < 6 and that is "news".'
    assert excerpt in mail.text
    assert "A second paragraph." in mail.text
    assert link in mail.text
    assert site.name in mail.text
    assert "&amp;" not in mail.text
    assert "&lt;" not in mail.text

    assert excerpt in mail.html_text
    assert "A second paragraph." in mail.html_text
    assert f'href="{link}"' in mail.html
    assert site.name in mail.html_text
    assert "<script" not in mail.html

    assert unsubscribe_url(mail).startswith(f"{PUBLIC_URL}/notifications/unsubscribe/")
    assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe_url(mail) in mail.text
    assert unsubscribe_url(mail) in mail.html
    assert f"{PUBLIC_URL}/notifications/manage/" in mail.text


def test_a_long_comment_is_cut_short(api, site, mailbox):
    subscribe_confirmed(api, mailbox, site, READER)
    words = " ".join(f"word{n}" for n in range(400))
    mail = notify(api, site, mailbox, words)
    assert "word0 word1" in mail.text
    assert "word399" not in mail.text
    assert "…" in mail.text


def test_unsubscribe_by_the_page(api, site, mailbox):
    subscribe_confirmed(api, mailbox, site, READER)
    assert subscribe(api, site, READER, url=OTHER_ARTICLE).status_code == 202
    path = path_of(unsubscribe_url(notify(api, site, mailbox)))

    browser = Client(enforce_csrf_checks=True)
    page = browser.get(path)
    assert page.status_code == 200
    assert '<form method="post">' in page.content.decode()
    assert Subscription.objects.filter(subscriber__email=READER).count() == 2  # GET changes nothing

    response = browser.post(path)  # the page's button
    assert response.status_code == 200
    assert "Unsubscribed" in response.content.decode()
    assert Subscription.objects.filter(subscriber__email=READER).count() == 0

    post(api, site, "After unsubscribing.")
    post(api, site, "On the other article too.", url=OTHER_ARTICLE)
    run_worker()
    assert len(mailbox.to(READER)) == 2  # the confirmation and one notification


def test_one_click_unsubscribe(api, site, mailbox):
    subscribe_confirmed(api, mailbox, site, READER)
    path = path_of(unsubscribe_url(notify(api, site, mailbox)))

    # As a mail provider does it (RFC 8058): a POST with this body, no cookie, no CSRF token.
    provider = Client(enforce_csrf_checks=True)
    response = provider.post(
        path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    assert not Subscription.objects.filter(subscriber__email=READER).exists()

    post(api, site, "After unsubscribing.")
    run_worker()
    assert len(mailbox.to(READER)) == 2

    # Again: still 200, still nothing.
    again = provider.post(
        path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert again.status_code == 200


def test_bad_links_get_a_400_page(api, site, mailbox):
    subscribe_confirmed(api, mailbox, site, READER)
    mail = notify(api, site, mailbox)
    [confirmation] = [m for m in mailbox.to(READER) if "Confirm" in m.subject]
    unsubscribe_token = path_of(unsubscribe_url(mail)).split("/")[3]
    confirm_token = confirmation.link("confirm").split("/")[3]

    def flip(token: str, index: int) -> str:
        char = token[index]
        return token[:index] + ("A" if char != "A" else "B") + token[index + 1 :]

    bad_tokens = [
        flip(unsubscribe_token, 0),  # the payload
        flip(unsubscribe_token, -1),  # the signature
        unsubscribe_token.split(":")[0],  # no signature at all
        unsubscribe_token + "x",
        "garbage",
        "a:b:c",
        ":::",
        "x" * 3000,
        "%00",
        "eyJzIjoiMSJ9:1xWFPp:AAAA",
        "ünïcödé",
    ]
    browser = Client()
    for kind in ("confirm", "unsubscribe", "manage"):
        for token in bad_tokens:
            for method in (browser.get, browser.post):
                response = method(f"/notifications/{kind}/{token}/")
                assert response.status_code == 400, (kind, token, method)
                assert "Link not valid" in response.content.decode()
    # A link made for one purpose does not work for another.
    assert browser.post(f"/notifications/unsubscribe/{confirm_token}/").status_code == 400
    assert browser.get(f"/notifications/manage/{confirm_token}/").status_code == 400
    assert browser.post(f"/notifications/confirm/{unsubscribe_token}/").status_code == 400
    assert Subscription.objects.filter(subscriber__email=READER).count() == 1


def test_the_manage_page(api, site, mailbox):
    subscribe_confirmed(api, mailbox, site, READER)
    post(api, site, "Start the other thread.", url=OTHER_ARTICLE, title="The other story")
    run_worker()
    assert subscribe(api, site, READER, url=OTHER_ARTICLE).status_code == 202
    mail = notify(api, site, mailbox)
    match = re.search(rf"{re.escape(PUBLIC_URL)}(/notifications/manage/[^/\s]+/)", mail.text)
    assert match
    path = match.group(1)

    browser = Client(enforce_csrf_checks=True)
    page = browser.get(path)
    assert page.status_code == 200
    html = page.content.decode()
    assert READER in html
    assert ARTICLE in html
    assert "The other story" in html
    assert 'value="immediate" selected' in html

    # Stop one subscription.
    other = Subscription.objects.get(subscriber__email=READER, thread__url=OTHER_ARTICLE)
    response = browser.post(path, {"csrfmiddlewaretoken": csrf_token(html), "remove": other.pk})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Removed." in html
    assert "The other story" not in html
    post(api, site, "Not for the reader any more.", url=OTHER_ARTICLE)
    run_worker()
    assert mailbox.to(READER)[-1] == mail, [m.subject + m.text for m in mailbox.to(READER)]

    # Change how often.
    response = browser.post(path, {"csrfmiddlewaretoken": csrf_token(html), "frequency": "daily"})
    assert response.status_code == 200
    assert 'value="daily" selected' in response.content.decode()
    assert Subscriber.objects.get(email=READER).frequency == Frequency.DAILY
    post(api, site, "Waits for the daily digest.")
    run_worker()
    assert mailbox.to(READER)[-1] == mail

    # Nonsense changes nothing and breaks nothing.
    for nonsense in ({"frequency": "weekly"}, {"remove": "²"}, {"remove": "9" * 30}, {}):
        response = browser.post(path, {"csrfmiddlewaretoken": csrf_token(html), **nonsense})
        assert response.status_code == 200, nonsense
    assert Subscriber.objects.get(email=READER).frequency == Frequency.DAILY
    assert Subscription.objects.filter(subscriber__email=READER).count() == 1

    # Its POSTs need the page's CSRF token.
    assert browser.post(path, {"frequency": "hourly"}).status_code == 403
