"""Every rule of the moderation pipeline, through the public API, and what it records."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from tests.conftest import ARTICLE
from townhall.discussions.models import Comment, CommentStatus
from townhall.moderation.models import AuditAction, AuditEntry

pytestmark = pytest.mark.django_db


def reasons(comment_id: int) -> list[str]:
    return [r["rule"] for r in Comment.objects.get(pk=comment_id).moderation["reasons"]]


def shown(api, site) -> list[str]:
    return [c["html"] for c in api.thread(site).json()["comments"]]


# ---- banned and suspect words -------------------------------------------------------------


def test_a_banned_word_refuses_the_comment_and_stores_nothing(api, make_site):
    site = make_site(banned_words=["scumbag", "go to hell"])
    for body in ("What a SCUMBAG.", "Scúmbag!", "Just go   to\nhell, minister."):
        response = api.comment(site, body)
        assert response.status_code == 400, body
        assert response.json()["error"] == {
            "code": "comment_rejected",
            "message": "This comment contains words this site does not allow.",
            "field": "body",
        }
    assert not Comment.objects.exists()


def test_words_match_whole_words_only(api, make_site):
    site = make_site(banned_words=["ass"], suspect_words=["hell"])
    response = api.comment(site, "The assessment of Shell's class was a hello to all.")
    assert response.status_code == 201


def test_a_suspect_word_holds_the_comment_with_its_reason(api, make_site):
    site = make_site(suspect_words=["propaganda"])
    response = api.comment(site, "Pure Propaganda, all of it.")
    assert response.status_code == 202
    comment = response.json()["comment"]
    assert comment["status"] == "pending"
    assert reasons(comment["id"]) == ["suspect_words"]
    assert shown(api, site) == []
    [entry] = AuditEntry.objects.all()
    assert (entry.action, entry.actor, entry.to_status) == (AuditAction.HOLD, None, "pending")
    assert entry.detail["reasons"][0]["detail"] == "propaganda"


# ---- links, repeats, bursts ---------------------------------------------------------------


def test_too_many_links_hold_the_comment(api, make_site):
    site = make_site(max_links=2)
    two = "See https://a.example/ and https://b.example/"
    assert api.comment(site, two).status_code == 201
    three = two + " and [this](https://c.example/)"
    response = api.comment(site, three)
    assert response.status_code == 202
    detail = Comment.objects.get(pk=response.json()["comment"]["id"]).moderation["reasons"][0]
    assert detail == {"rule": "links", "action": "hold", "detail": "3 links (the site allows 2)"}


def test_the_same_text_again_from_the_same_client_waits(api, site):
    assert api.comment(site, "Turkey will never allow it.").status_code == 201
    again = api.comment(site, "Turkey will never allow it.")
    assert again.status_code == 202
    assert reasons(again.json()["comment"]["id"]) == ["repeated"]
    # Another reader may say the same words.
    other = api.comment(site, "Turkey will never allow it.", remote_addr="203.0.113.9")
    assert other.status_code == 201


def test_a_new_commenter_posting_fast_waits(api, make_site):
    site = make_site(new_commenter_burst=2)
    statuses = [api.comment(site).status_code for _ in range(3)]
    assert statuses == [201, 201, 202]
    held = Comment.objects.order_by("-id").first()
    assert reasons(held.pk) == ["fast_new_commenter"]
    # Another client is not slowed by the first one.
    assert api.comment(site, remote_addr="203.0.113.7").status_code == 201


def test_the_burst_is_off_with_the_rate_limits(api, make_site, settings):
    settings.RATELIMIT_ENABLE = False
    site = make_site(new_commenter_burst=1)
    assert [api.comment(site).status_code for _ in range(3)] == [201, 201, 201]


# ---- toxicity -------------------------------------------------------------------------------


def test_a_toxic_comment_waits_with_its_score(api, site):
    response = api.comment(site, "You are a fucking idiot and a liar.")
    assert response.status_code == 202
    record = Comment.objects.get(pk=response.json()["comment"]["id"]).moderation
    assert record["toxicity"] >= 0.9
    assert [r["rule"] for r in record["reasons"]] == ["toxicity"]
    assert record["reasons"][0]["detail"].startswith("score 0.9") or record["reasons"][0][
        "detail"
    ].startswith("score 1.00")


def test_an_ordinary_comment_keeps_its_low_score(api, site):
    response = api.comment(site, "The minister met his counterpart in Sochi.")
    assert response.status_code == 201
    record = Comment.objects.get(pk=response.json()["comment"]["id"]).moderation
    assert record["reasons"] == [] and record["toxicity"] < 0.5


def test_a_threshold_of_one_turns_the_score_off(api, make_site):
    site = make_site(toxicity_threshold=1.0)
    response = api.comment(site, "You are a fucking idiot.")
    assert response.status_code == 201
    assert Comment.objects.get().moderation == {"reasons": [], "toxicity": None}


# ---- moderation modes -------------------------------------------------------------------


def test_pre_moderation_holds_everything_and_says_why(api, make_site):
    site = make_site(moderation_mode="pre")
    response = api.comment(site, "Hello.")
    assert response.status_code == 202
    assert reasons(response.json()["comment"]["id"]) == ["mode"]


def test_pre_moderating_first_comments_lets_approved_readers_through(api, make_site):
    from townhall.moderation.actions import do_moderate_comment

    site = make_site(moderation_mode="pre_first")
    first = api.comment(site, "My first words here.")
    assert first.status_code == 202
    token = first.json()["edit_token"]
    assert api.comment(site, "Still waiting?", token=token).status_code == 202
    do_moderate_comment(None, Comment.objects.get(pk=first.json()["comment"]["id"]), "approve")
    assert api.comment(site, "Now I am known.", token=token).status_code == 201
    # A stranger still waits.
    assert api.comment(site, "Hi all.", remote_addr="203.0.113.5").status_code == 202


def test_post_moderation_shows_at_once(api, site):
    assert api.comment(site, "Hello.").status_code == 201


# ---- edits pass the pipeline too -----------------------------------------------------------


def test_an_edit_with_a_suspect_word_takes_the_comment_out_of_the_thread(api, make_site):
    site = make_site(suspect_words=["propaganda"])
    posted = api.comment(site, "A fair point.").json()
    comment_id = posted["comment"]["id"]
    edited = api.patch(
        f"/api/v1/comments/{comment_id}", {"body": "Propaganda."}, token=posted["edit_token"]
    )
    assert edited.status_code == 200
    assert edited.json()["status"] == "pending"
    assert shown(api, site) == []
    assert api.thread(site).json()["thread"]["comment_count"] == 0
    entry = AuditEntry.objects.get()
    assert (entry.from_status, entry.to_status, entry.detail["edit"]) == (
        "visible",
        "pending",
        True,
    )


def test_an_edit_with_a_banned_word_is_refused_and_the_comment_kept(api, make_site):
    site = make_site(banned_words=["scumbag"])
    posted = api.comment(site, "A fair point.").json()
    response = api.patch(
        f"/api/v1/comments/{posted['comment']['id']}",
        {"body": "scumbag"},
        token=posted["edit_token"],
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "comment_rejected"
    assert shown(api, site) == ["<p>A fair point.</p>"]


# ---- Akismet, only for sites with a key -----------------------------------------------------


class FakeAkismet:
    """Akismet's comment-check on 127.0.0.1: answers what the test sets, records each form."""

    def __init__(self) -> None:
        self.answer = b"false"
        self.forms: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                form = parse_qs(self.rfile.read(length).decode())
                outer.forms.append({k: v[0] for k, v in form.items()})
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(outer.answer)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/1.1/comment-check"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def akismet(monkeypatch):
    fake = FakeAkismet()
    monkeypatch.setenv("TOWNHALL_AKISMET_URL", fake.url)
    yield fake
    fake.close()


def test_akismet_is_never_asked_without_the_sites_key(api, site, akismet):
    assert api.comment(site, "Hello.").status_code == 201
    assert akismet.forms == []


def test_akismet_spam_is_filed_as_spam_and_shown_to_nobody(api, make_site, akismet):
    site = make_site(akismet_key="abc123def456")
    akismet.answer = b"true"
    response = api.comment(
        site, "Cheap watches here.", author_name="Bot", author_email="bot@example.com"
    )
    assert response.status_code == 202  # the author is told no more than "awaiting moderation"
    assert response.json()["comment"]["status"] == "pending"
    comment = Comment.objects.get()
    assert comment.status == CommentStatus.SPAM
    assert reasons(comment.pk) == ["akismet"]
    [form] = akismet.forms
    assert form["api_key"] == "abc123def456"
    assert form["comment_content"] == "Cheap watches here."
    assert form["comment_author_email"] == "bot@example.com"
    assert form["user_ip"] == "127.0.0.1"
    assert form["permalink"] == ARTICLE
    assert form["blog"] == "https://news.example"


def test_akismet_ham_goes_through(api, make_site, akismet):
    site = make_site(akismet_key="abc123def456")
    assert api.comment(site, "A thoughtful remark.").status_code == 201
    assert len(akismet.forms) == 1


def test_akismet_out_of_reach_decides_nothing_and_is_logged(api, make_site, monkeypatch, caplog):
    site = make_site(akismet_key="abc123def456")
    monkeypatch.setenv("TOWNHALL_AKISMET_URL", "http://127.0.0.1:9/comment-check")
    assert api.comment(site, "Hello.").status_code == 201
    assert "Akismet did not answer" in caplog.text
    assert "127.0.0.1" not in caplog.text.replace("http://127.0.0.1:9", "")


def test_an_invalid_akismet_answer_decides_nothing(api, make_site, akismet, caplog):
    site = make_site(akismet_key="abc123def456")
    akismet.answer = b"invalid"
    assert api.comment(site, "Hello.").status_code == 201
    assert "key not valid" in caplog.text
