"""Publisher sign-in by a signed JWT: both algorithms, every refusal, roles, sessions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from django.test import Client

from tests.conftest import ORIGIN
from tests.identity.conftest import _RSA, claims, hs_token, rs_token, rsa_keys, sso
from townhall.identity.models import Commenter, CommenterKind

pytestmark = pytest.mark.django_db


def test_hs256_sign_in_links_one_identity_and_updates_it(api, hs_site):
    first = sso(api, hs_site, hs_token(hs_site))
    assert first.status_code == 200, first.json()
    body = first.json()
    assert body["commenter"] == {
        "id": body["commenter"]["id"],
        "name": "Ada Reader",
        "email": "ada@example.test",
        "avatar": "https://news.example/avatars/ada.png",
        "kind": "sso",
        "moderator": False,
        "email_confirmed": True,
    }
    again = sso(api, hs_site, hs_token(hs_site, name="Ada L.", avatar="javascript:alert(1)"))
    assert again.json()["commenter"]["id"] == body["commenter"]["id"]
    assert again.json()["commenter"]["name"] == "Ada L."
    assert again.json()["commenter"]["avatar"] == ""  # only http(s) URLs
    assert Commenter.objects.filter(site=hs_site, kind=CommenterKind.SSO).count() == 1


def test_rs256_sign_in(api, rs_site):
    response = sso(api, rs_site, rs_token(sub="rs-1", name="Rita"))
    assert response.status_code == 200, response.json()
    assert response.json()["commenter"]["name"] == "Rita"


def test_the_session_token_posts_and_names_the_identity(api, hs_site):
    session = sso(api, hs_site, hs_token(hs_site)).json()["session_token"]
    posted = api.comment(hs_site, "Signed in.", token=session, author_name="Someone Else")
    assert posted.status_code == 201, posted.json()
    assert posted.json()["comment"]["author_name"] == "Ada Reader"
    me = api.get("/api/v1/me", site=hs_site.slug, headers={"Authorization": f"Bearer {session}"})
    assert me.status_code == 200 and me.json()["kind"] == "sso"
    comment_id = posted.json()["comment"]["id"]
    vote = api.post(f"/api/v1/comments/{comment_id}/vote", {"value": 1}, token=session)
    assert vote.status_code == 200, vote.json()


def test_sign_out_everywhere_revokes_session_tokens(api, hs_site):
    session = sso(api, hs_site, hs_token(hs_site)).json()["session_token"]
    out = api.post(f"/api/v1/auth/sign-out-everywhere?site={hs_site.slug}", token=session)
    assert out.status_code == 204
    me = api.get("/api/v1/me", site=hs_site.slug, headers={"Authorization": f"Bearer {session}"})
    assert me.status_code == 401 and me.json()["error"]["code"] == "session_revoked"
    fresh = sso(api, hs_site, hs_token(hs_site)).json()["session_token"]
    ok = api.get("/api/v1/me", site=hs_site.slug, headers={"Authorization": f"Bearer {fresh}"})
    assert ok.status_code == 200


def _code(response) -> str:
    return response.json()["error"]["code"]


def test_expired_token_is_refused(api, hs_site):
    response = sso(api, hs_site, hs_token(hs_site, iat=1_000, exp=2_000))
    assert response.status_code == 401 and _code(response) == "sso_token_expired"


def test_token_without_exp_jti_or_sub_is_refused(api, hs_site):
    for missing in ("exp", "jti", "sub"):
        response = sso(api, hs_site, hs_token(hs_site, **{missing: None}))
        assert response.status_code == 401 and _code(response) == "invalid_sso_token", missing


def test_token_from_the_future_is_refused(api, hs_site):
    import time

    response = sso(api, hs_site, hs_token(hs_site, iat=int(time.time()) + 3600))
    assert response.status_code == 401 and _code(response) == "invalid_sso_token"


def test_forged_tokens_are_refused(api, hs_site, rs_site):
    wrong_key = hs_token(hs_site, secret="another-secret-another-secret-another-secret")
    assert _code(sso(api, hs_site, wrong_key)) == "invalid_sso_token"
    # alg "none": an unsigned token.
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    payload = base64.urlsafe_b64encode(json.dumps(claims()).encode()).rstrip(b"=").decode()
    assert _code(sso(api, hs_site, f"{header}.{payload}.")) == "invalid_sso_token"
    # HS256 signed with the RS256 site's public key as the secret (algorithm confusion).
    head = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(claims()).encode()).rstrip(b"=")
    signature = hmac.new(_RSA[1].encode(), head + b"." + body, hashlib.sha256).digest()
    confused = (
        head + b"." + body + b"." + base64.urlsafe_b64encode(signature).rstrip(b"=")
    ).decode()
    assert _code(sso(api, rs_site, confused)) == "invalid_sso_token"
    # An HS256 token (with the HS site's secret) for the RS256 site.
    assert _code(sso(api, rs_site, hs_token())) == "invalid_sso_token"
    # Signed by another RSA key.
    assert _code(sso(api, rs_site, rs_token(private_key=rsa_keys()[0]))) == "invalid_sso_token"
    assert Commenter.objects.count() == 0


def test_a_replayed_token_is_refused(api, hs_site):
    token = hs_token(hs_site)
    assert sso(api, hs_site, token).status_code == 200
    replay = sso(api, hs_site, token)
    assert replay.status_code == 401 and _code(replay) == "sso_token_replayed"


def test_another_sites_token_is_refused(api, hs_site, make_site):
    from townhall.sites.actions import do_set_sign_in

    other = do_set_sign_in(
        make_site(slug="other-news"),
        methods=["sso"],
        sso_algorithm="HS256",
        sso_secret="other-site-secret-other-site-secret-0123",
    )
    # Right secret, audience of another site.
    wrong_aud = sso(api, hs_site, hs_token(aud="other-news"))
    assert wrong_aud.status_code == 401 and _code(wrong_aud) == "sso_wrong_site"
    # Signed with the other site's secret.
    theirs = hs_token(other, secret="other-site-secret-other-site-secret-0123")
    assert _code(sso(api, hs_site, theirs)) == "invalid_sso_token"
    assert sso(api, other, theirs).status_code == 200


def test_a_site_without_sso_refuses(api, site):
    response = sso(api, site, hs_token(site))
    assert response.status_code == 403 and _code(response) == "sso_not_enabled"


def test_sso_from_a_foreign_origin_is_refused(api, hs_site):
    response = api.post(
        "/api/v1/auth/sso",
        {"site": hs_site.slug, "token": hs_token(hs_site)},
        origin="https://evil.example",
    )
    assert response.status_code == 403
    assert sso(api, hs_site, hs_token(hs_site)).status_code == 200
    assert ORIGIN  # the allowed origin is the fixtures'


def test_moderator_role_gives_and_takes_the_moderation_pages(api, hs_site):
    body = sso(api, hs_site, hs_token(hs_site, roles=["moderator"])).json()
    assert body["commenter"]["moderator"] is True
    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/moderate/sso/")
    assert page.status_code == 200
    csrf = browser.cookies["csrftoken"].value
    signed_in = browser.post(
        "/moderate/sso/",
        {
            "site": hs_site.slug,
            "token": hs_token(hs_site, roles=["moderator"]),
            "csrfmiddlewaretoken": csrf,
        },
    )
    assert signed_in.status_code == 302 and signed_in["Location"] == f"/moderate/{hs_site.slug}/"
    assert browser.get(f"/moderate/{hs_site.slug}/").status_code == 200
    # The role removed at the next sign-in: moderator rights go.
    again = sso(api, hs_site, hs_token(hs_site, roles=[])).json()
    assert again["commenter"]["moderator"] is False
    assert (
        browser.get(f"/moderate/{hs_site.slug}/").status_code == 403
    )  # moderates no site any more


def test_moderator_sso_form_needs_csrf(hs_site):
    browser = Client(enforce_csrf_checks=True)
    response = browser.post(
        "/moderate/sso/", {"site": hs_site.slug, "token": hs_token(hs_site, roles=["moderator"])}
    )
    assert response.status_code == 403


def test_session_token_edits_and_deletes_own_comments_on_its_site_only(api, hs_site, make_site):
    session = sso(api, hs_site, hs_token(hs_site)).json()["session_token"]
    comment_id = api.comment(hs_site, "First words.", token=session).json()["comment"]["id"]
    edited = api.patch(f"/api/v1/comments/{comment_id}", {"body": "Better words."}, token=session)
    assert edited.status_code == 200, edited.json()
    other_site = make_site(slug="elsewhere")
    refused = api.get(
        "/api/v1/me", site=other_site.slug, headers={"Authorization": f"Bearer {session}"}
    )
    assert refused.status_code == 401
    assert api.delete(f"/api/v1/comments/{comment_id}", token=session).status_code == 204
