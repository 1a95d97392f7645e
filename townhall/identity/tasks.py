"""Identity email, sent by `townhall worker` (django-tasks) like every other email."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django_tasks import task

from townhall.identity.magic import FRAGMENT_KEY, MAX_AGE_SECONDS, make_magic_token
from townhall.sites.models import Site

logger = logging.getLogger(__name__)


@task()
def send_magic_link(site_id: int, email: str, name: str, return_url: str) -> bool:
    """Makes a fresh sign-in token and mails ``return_url#townhall-signin=<token>``."""
    site = Site.objects.filter(pk=site_id).first()
    if site is None:
        return False
    token = make_magic_token(site, email=email, name=name)
    base = return_url.split("#", 1)[0]
    context = {
        "site": site,
        "link": f"{base}#{FRAGMENT_KEY}={token}",
        "minutes": MAX_AGE_SECONDS // 60,
    }
    message = EmailMultiAlternatives(
        subject=f"Sign in to comment on {site.name}",
        body=render_to_string("identity/email/magic_link.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email],
        headers={"Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(
        render_to_string("identity/email/magic_link.html", context), "text/html"
    )
    message.send()
    return True
