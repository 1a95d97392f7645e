"""Votes through the HTTP API: one per reader, changeable, counts always equal to the rows."""

from __future__ import annotations

import pytest
from django.db.models import Count, Q, Sum

from tests.conftest import ORIGIN
from townhall.discussions.models import Comment, Thread, Vote
from townhall.identity.models import Commenter
from townhall.sites.models import Site

pytestmark = pytest.mark.django_db


def vote(api, comment_id: int, value, *, remote_addr: str = "127.0.0.1", token=None, origin=None):
    return api.post(
        f"/api/v1/comments/{comment_id}/vote",
        {"value": value},
        remote_addr=remote_addr,
        token=token,
        origin=origin,
    )


def tally(response) -> tuple[int, int, int]:
    body = response.json()
    return body["upvotes"], body["downvotes"], body["score"]


def stored_tally(comment_id: int) -> tuple[int, int, int]:
    comment = Comment.objects.get(pk=comment_id)
    return comment.upvotes, comment.downvotes, comment.score


def row_tally(comment_id: int) -> tuple[int, int, int]:
    rows = Vote.objects.filter(comment_id=comment_id).aggregate(
        up=Count("pk", filter=Q(value=1)),
        down=Count("pk", filter=Q(value=-1)),
        total=Sum("value"),
    )
    return rows["up"], rows["down"], rows["total"] or 0


@pytest.fixture
def posted(api, site) -> dict:
    response = api.comment(site, "Vote on me")
    assert response.status_code == 201
    return response.json()


@pytest.fixture
def comment_id(posted) -> int:
    return posted["comment"]["id"]


def test_upvote(api, comment_id):
    response = vote(api, comment_id, 1)
    assert response.status_code == 200
    assert response.json() == {
        "id": comment_id,
        "upvotes": 1,
        "downvotes": 0,
        "score": 1,
        "your_vote": 1,
    }
    assert stored_tally(comment_id) == (1, 0, 1)
    assert Vote.objects.get().value == 1


def test_change_up_to_down(api, comment_id):
    vote(api, comment_id, 1)
    response = vote(api, comment_id, -1)
    assert response.status_code == 200
    assert tally(response) == (0, 1, -1)
    assert response.json()["your_vote"] == -1
    assert stored_tally(comment_id) == (0, 1, -1)
    assert Vote.objects.count() == 1


def test_withdraw_with_zero(api, comment_id):
    vote(api, comment_id, 1)
    vote(api, comment_id, -1)
    response = vote(api, comment_id, 0)
    assert response.status_code == 200
    assert tally(response) == (0, 0, 0)
    assert response.json()["your_vote"] == 0
    assert stored_tally(comment_id) == (0, 0, 0)
    assert not Vote.objects.exists()


def test_withdrawing_without_a_vote_changes_nothing(api, comment_id):
    response = vote(api, comment_id, 0)
    assert response.status_code == 200
    assert tally(response) == (0, 0, 0)
    assert not Vote.objects.exists()


@pytest.mark.parametrize("value", [1, -1])
def test_repeating_the_same_vote_is_idempotent(api, comment_id, value):
    first = vote(api, comment_id, value)
    again = vote(api, comment_id, value)
    assert again.status_code == 200
    assert tally(again) == tally(first)
    assert again.json()["your_vote"] == value
    assert stored_tally(comment_id) == ((1, 0, 1) if value == 1 else (0, 1, -1))
    assert Vote.objects.count() == 1


def test_repeating_a_vote_does_not_bump_the_thread(api, comment_id):
    vote(api, comment_id, 1)
    version = Thread.objects.get().version
    vote(api, comment_id, 1)
    assert Thread.objects.get().version == version


@pytest.mark.parametrize(
    "body",
    [
        {"value": 2},
        {"value": -2},
        {"value": "x"},
        {"value": "1"},
        {"value": None},
        {},
        {"value": [1]},
    ],
)
def test_invalid_vote_values_are_a_422(api, comment_id, body):
    response = api.post(f"/api/v1/comments/{comment_id}/vote", body)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"
    assert stored_tally(comment_id) == (0, 0, 0)
    assert not Vote.objects.exists()


def test_malformed_vote_body_is_a_400(api, comment_id):
    response = api.post(f"/api/v1/comments/{comment_id}/vote", raw=b"{value: 1")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_body"


def test_vote_on_a_nonexistent_comment_is_a_404(api, comment_id):
    response = vote(api, comment_id + 1000, 1)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "comment_not_found"
    assert not Vote.objects.exists()


def test_vote_on_a_deleted_comment_is_a_404(api, posted, comment_id):
    vote(api, comment_id, 1, remote_addr="10.0.0.1")
    deleted = api.delete(f"/api/v1/comments/{comment_id}", token=posted["edit_token"])
    assert deleted.status_code == 204
    response = vote(api, comment_id, -1, remote_addr="10.0.0.2")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "comment_not_found"
    assert row_tally(comment_id) == (1, 0, 1)


@pytest.mark.parametrize("status", ["pending", "rejected", "spam"])
def test_vote_on_a_hidden_comment_is_a_404(api, comment_id, status):
    Comment.objects.filter(pk=comment_id).update(status=status)
    response = vote(api, comment_id, 1)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "comment_not_found"
    assert not Vote.objects.exists()


def test_vote_on_a_pending_comment_of_a_pre_moderated_site_is_a_404(api, make_site):
    site = make_site(moderation_mode="pre")
    pending = api.comment(site, "Waiting").json()["comment"]
    response = vote(api, pending["id"], 1)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "comment_not_found"


def test_same_address_counts_once(api, comment_id):
    vote(api, comment_id, 1, remote_addr="10.0.0.1")
    response = vote(api, comment_id, 1, remote_addr="10.0.0.1")
    assert tally(response) == (1, 0, 1)
    assert Vote.objects.count() == 1


def test_different_addresses_count_separately(api, comment_id):
    vote(api, comment_id, 1, remote_addr="10.0.0.1")
    vote(api, comment_id, 1, remote_addr="10.0.0.2")
    response = vote(api, comment_id, -1, remote_addr="2001:db8::1")
    assert tally(response) == (2, 1, 1)
    assert Vote.objects.count() == 3


def test_ipv6_addresses_of_one_64_prefix_count_once(api, comment_id):
    vote(api, comment_id, 1, remote_addr="2001:db8:1:2::1")
    response = vote(api, comment_id, 1, remote_addr="2001:db8:1:2:ffff::9")
    assert tally(response) == (1, 0, 1)


def test_address_votes_store_no_raw_address(api, comment_id):
    vote(api, comment_id, 1, remote_addr="10.20.30.40")
    key = Vote.objects.get().voter_key
    assert key.startswith("a:")
    assert "10.20.30.40" not in key


def test_token_holder_votes_as_their_commenter(api, site, posted, comment_id):
    voter = api.comment(site, "I vote", remote_addr="10.0.0.5").json()
    token = voter["edit_token"]
    vote(api, comment_id, 1, token=token, remote_addr="10.0.0.1")
    response = vote(api, comment_id, 1, token=token, remote_addr="10.0.0.2")
    assert tally(response) == (1, 0, 1)
    [row] = Vote.objects.filter(comment_id=comment_id)
    commenter_id = Commenter.objects.get(comments__id=voter["comment"]["id"]).pk
    assert row.voter_key == f"c:{commenter_id}"

    # And can change that vote from yet another address.
    changed = vote(api, comment_id, -1, token=token, remote_addr="10.0.0.3")
    assert tally(changed) == (0, 1, -1)
    assert Vote.objects.filter(comment_id=comment_id).count() == 1


@pytest.mark.parametrize("token", ["garbage", "a.b.c"])
def test_bad_token_cannot_vote(api, comment_id, token):
    response = vote(api, comment_id, 1, token=token)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"
    assert stored_tally(comment_id) == (0, 0, 0)
    assert not Vote.objects.exists()


def test_token_of_another_site_cannot_vote(api, make_site, comment_id):
    other = make_site(slug="other")
    token = api.comment(other, "Elsewhere").json()["edit_token"]
    response = vote(api, comment_id, 1, token=token)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"
    assert not Vote.objects.filter(comment_id=comment_id).exists()


def test_vote_from_an_origin_the_site_does_not_allow_is_refused(api, comment_id):
    response = vote(api, comment_id, 1, origin="https://evil.example")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "origin_not_allowed"
    assert not Vote.objects.exists()
    assert vote(api, comment_id, 1, origin=ORIGIN).status_code == 200


def test_counts_always_equal_the_vote_rows(api, site, comment_id):
    token = api.comment(site, "A token holder", remote_addr="10.9.0.1").json()["edit_token"]
    steps = [
        ("10.0.0.1", None, 1),
        ("10.0.0.2", None, 1),
        ("10.0.0.3", None, -1),
        ("10.0.0.1", None, -1),
        ("10.0.0.4", token, 1),
        ("10.0.0.2", None, 0),
        ("10.0.0.5", token, -1),
        ("10.0.0.3", None, -1),
        ("10.0.0.6", None, 0),
        ("10.0.0.6", None, 1),
        ("10.0.0.4", None, 1),  # the same address without the token: a voter of its own
        ("10.0.0.1", None, 0),
    ]
    for address, voter_token, value in steps:
        response = vote(api, comment_id, value, remote_addr=address, token=voter_token)
        assert response.status_code == 200
        assert response.json()["your_vote"] == value
        assert tally(response) == stored_tally(comment_id) == row_tally(comment_id)
    # Final: token -1, 10.0.0.3 -1, 10.0.0.6 +1, 10.0.0.4 +1.
    assert row_tally(comment_id) == (2, 2, 0)
    assert Vote.objects.filter(comment_id=comment_id).count() == 4


def test_votes_are_per_comment(api, site, comment_id):
    other = api.comment(site, "Another").json()["comment"]["id"]
    vote(api, comment_id, 1)
    response = vote(api, other, -1)
    assert tally(response) == (0, 1, -1)
    assert stored_tally(comment_id) == (1, 0, 1)


def test_votes_are_rate_limited_per_address(api, site, comment_id):
    Site.objects.filter(pk=site.pk).update(vote_rate_per_client="3/m")
    for value in (1, -1, 0):
        assert vote(api, comment_id, value).status_code == 200
    limited = vote(api, comment_id, 1)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert stored_tally(comment_id) == row_tally(comment_id) == (0, 0, 0)

    other = vote(api, comment_id, 1, remote_addr="10.0.0.2")
    assert other.status_code == 200
    assert tally(other) == (1, 0, 1)


def test_vote_rate_limit_can_be_switched_off(api, site, comment_id, settings):
    settings.RATELIMIT_ENABLE = False
    Site.objects.filter(pk=site.pk).update(vote_rate_per_client="3/m")
    statuses = [vote(api, comment_id, value).status_code for value in (1, -1, 0, 1, -1)]
    assert statuses == [200] * 5


@pytest.mark.parametrize("value", [True, 1.0, "1", None, 2, -2])
def test_vote_value_must_be_exactly_one_of_three_integers(api, comment_id, value):
    response = api.post(f"/api/v1/comments/{comment_id}/vote", {"value": value})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "value"
    assert Vote.objects.count() == 0
