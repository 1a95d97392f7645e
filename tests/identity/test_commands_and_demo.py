from __future__ import annotations

import io
import time

import jwt
import pytest
from django.core.management import CommandError, call_command

from tests.identity.conftest import HS_SECRET, rsa_keys
from townhall.sites.models import Site

pytestmark = pytest.mark.django_db


def test_signin_command_sets_hs256_without_echoing_the_secret(site, capsys):
    call_command(
        "signin",
        site.slug,
        "--methods",
        "guest,sso",
        "--sso-hs256-secret-stdin",
        "--deletion-policy",
        "anonymize",
        stdin=io.StringIO(HS_SECRET + "\n"),
    )
    out = capsys.readouterr().out
    assert HS_SECRET not in out and "guest, sso" in out and "anonymize" in out
    site.refresh_from_db()
    assert (site.signin_sso, site.signin_email, site.sso_secret) == (True, False, HS_SECRET)


def test_signin_command_sets_rs256_and_refuses_bad_input(site, tmp_path):
    pem = tmp_path / "publisher.pem"
    pem.write_text(rsa_keys()[1])
    call_command("signin", site.slug, "--methods", "sso", "--sso-rs256-public-key", str(pem))
    site.refresh_from_db()
    assert site.sso_algorithm == "RS256" and site.sso_public_key.startswith("-----BEGIN")
    pem.write_text("not a key")
    with pytest.raises(CommandError, match="PEM"):
        call_command("signin", site.slug, "--sso-rs256-public-key", str(pem))
    with pytest.raises(CommandError, match="Sign-in methods"):
        call_command("signin", site.slug, "--methods", "facebook")
    with pytest.raises(CommandError, match="32 to 255"):
        call_command("signin", site.slug, "--sso-hs256-secret-stdin", stdin=io.StringIO("short\n"))


def test_demo_signs_in_through_its_publisher_login(client, api):
    call_command("demo", "--port", "80")
    site = Site.objects.get(slug="demo")
    assert site.signin_guest and site.signin_email and site.signin_sso
    secret = site.sso_secret
    assert len(secret) >= 32
    call_command("demo", "--port", "80")
    site.refresh_from_db()
    assert site.sso_secret == secret  # kept across runs
    own = "http://testserver"
    refused = client.post(
        "/demo/sso-token",
        {"name": "Ada"},
        content_type="application/json",
        headers={"Origin": "https://evil.example"},
    )
    assert refused.status_code == 403
    form = client.post("/demo/sso-token", {"name": "Ada"}, headers={"Origin": own})
    assert form.status_code == 415
    response = client.post(
        "/demo/sso-token",
        {"name": "Ada  Lovelace"},
        content_type="application/json",
        headers={"Origin": own},
    )
    assert response.status_code == 200
    token = response.json()["token"]
    claims = jwt.decode(token, secret, algorithms=["HS256"], audience="demo")
    assert claims["name"] == "Ada Lovelace" and claims["exp"] <= time.time() + 300
    signed_in = api.post(
        "/api/v1/auth/sso", {"site": "demo", "token": token}, origin="http://127.0.0.1"
    )
    assert signed_in.status_code == 200, signed_in.json()
    assert signed_in.json()["commenter"]["name"] == "Ada Lovelace"


def test_guest_rules_of_the_site_are_enforced(api, site):
    from townhall.sites.actions import do_set_sign_in

    do_set_sign_in(site, guest_requires=["name", "email"])
    no_name = api.comment(site, "Who am I?")
    assert no_name.status_code == 400 and no_name.json()["error"]["code"] == "name_required"
    no_email = api.comment(site, "Hello.", author_name="Gus")
    assert no_email.status_code == 400 and no_email.json()["error"]["code"] == "email_required"
    ok = api.comment(site, "Hello.", author_name="Gus", author_email="gus@example.test")
    assert ok.status_code == 201
    do_set_sign_in(site, methods=["email"])
    closed = api.comment(site, "Again.", author_name="Gus", author_email="gus@example.test")
    assert closed.status_code == 403 and closed.json()["error"]["code"] == "guest_not_allowed"
