"""The cookie-based pages: their cookies are HttpOnly, SameSite=Lax, Secure over TLS."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from townhall.moderation.actions import do_add_moderator

pytestmark = pytest.mark.django_db


def test_session_and_csrf_cookies_are_set_carefully(site):
    user = get_user_model().objects.create_user("mod", password="pw-mod-123456")
    do_add_moderator(user, site)
    browser = Client(enforce_csrf_checks=True)
    login_page = browser.get("/moderate/login/")
    csrf = browser.cookies["csrftoken"]
    assert csrf["httponly"] and csrf["samesite"] == "Lax"
    response = browser.post(
        "/moderate/login/",
        {"username": "mod", "password": "pw-mod-123456", "csrfmiddlewaretoken": csrf.value},
    )
    assert response.status_code == 302, login_page.content[:200]
    session = response.cookies[settings.SESSION_COOKIE_NAME]
    assert session["httponly"] and session["samesite"] == "Lax"
    assert not session["secure"]  # http://127.0.0.1 in tests


@pytest.mark.parametrize(
    ("public_url", "secure"), [("https://comments.example", "True"), ("http://127.0.0.1", "False")]
)
def test_cookies_are_secure_when_served_over_tls(public_url, secure):
    env = {
        **os.environ,
        "TOWNHALL_PUBLIC_URL": public_url,
        "DJANGO_SETTINGS_MODULE": "townhall.config.settings",
    }
    env.pop("TOWNHALL_SECURE_COOKIES", None)
    code = (
        "from django.conf import settings as s;"
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY)"
    )
    out = subprocess.run(  # noqa: S603 (this Python, a fixed script)
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == [secure, secure, "True"]
