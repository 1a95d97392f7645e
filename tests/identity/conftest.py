"""Sign-in fixtures: sites that take SSO (HS256 and RS256) and a publisher that signs tokens."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from townhall.sites.actions import do_set_sign_in
from townhall.sites.models import Site

HS_SECRET = "a-publisher-secret-of-enough-length-0123456789"


def rsa_keys() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


_RSA = rsa_keys()


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "sub": "reader-42",
        "name": "Ada Reader",
        "email": "ada@example.test",
        "avatar": "https://news.example/avatars/ada.png",
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


@pytest.fixture
def rsa_private_key() -> str:
    return _RSA[0]


@pytest.fixture
def hs_site(make_site) -> Site:
    site = make_site(slug="hs-news")
    return do_set_sign_in(
        site, methods=["guest", "email", "sso"], sso_algorithm="HS256", sso_secret=HS_SECRET
    )


@pytest.fixture
def rs_site(make_site) -> Site:
    site = make_site(slug="rs-news")
    return do_set_sign_in(
        site, methods=["guest", "sso"], sso_algorithm="RS256", sso_public_key=_RSA[1]
    )


def hs_token(site: Site | None = None, secret: str = HS_SECRET, **overrides: Any) -> str:
    payload = claims(**overrides)
    if site is not None:
        payload.setdefault("aud", site.slug)
    return jwt.encode(payload, secret, algorithm="HS256")


def rs_token(private_key: str = _RSA[0], **overrides: Any) -> str:
    return jwt.encode(claims(**overrides), private_key, algorithm="RS256")


def sso(api, site: Site, token: str):
    return api.post("/api/v1/auth/sso", {"site": site.slug, "token": token})


# The notifications tests' real SMTP server and worker, for the magic link.
from tests.notifications.conftest import (  # noqa: E402, F401
    Mailbox,
    mailbox,
    run_worker,
    smtp_server,
)
