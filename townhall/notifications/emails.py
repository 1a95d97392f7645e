"""The notification emails: rendered from templates, with one-click unsubscribe headers."""

from __future__ import annotations

import hashlib
from html import unescape
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.utils import DNS_NAME
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import strip_tags
from django.utils.text import Truncator

from townhall.notifications import tokens
from townhall.notifications.models import Delivery, Subscriber


def link(path: str) -> str:
    return settings.PUBLIC_URL + path


def _manage_links(subscriber: Subscriber, token: str | None = None) -> dict[str, str]:
    token = token or tokens.make_token(subscriber, tokens.MANAGE)
    return {
        "unsubscribe_url": link(reverse("notifications-unsubscribe", args=[token])),
        "manage_url": link(reverse("notifications-manage", args=[token])),
    }


def _message(
    subscriber: Subscriber,
    subject: str,
    template: str,
    context: dict,
    *,
    list_headers: bool,
    token: str | None = None,
) -> EmailMultiAlternatives:
    context = {"site": subscriber.site, "subscriber": subscriber, **context}
    headers = {"Auto-Submitted": "auto-generated"}
    if list_headers:
        links = _manage_links(subscriber, token)
        context.update(links)
        # RFC 2369 and RFC 8058: mail clients offer an unsubscribe button that POSTs here.
        headers["List-Unsubscribe"] = f"<{links['unsubscribe_url']}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"notifications/email/{template}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[subscriber.email],
        headers=headers,
    )
    message.attach_alternative(
        render_to_string(f"notifications/email/{template}.html", context), "text/html"
    )
    return message


def message_id(kind: str, deliveries: list[Delivery]) -> str:
    """The same Message-ID each time these deliveries are sent: a worker killed between the SMTP
    server's acceptance and recording it sends the mail again, and mail clients show the two
    copies as one message. The deliveries' creation times keep the ids of a database started
    afresh from matching those of mail sent before; the domain is the public address's, the
    same on every worker's host."""
    names = ",".join(f"{delivery.pk}@{delivery.created.isoformat()}" for delivery in deliveries)
    fingerprint = hashlib.sha256(names.encode()).hexdigest()[:16]
    domain = urlsplit(settings.PUBLIC_URL).hostname or DNS_NAME
    return f"<{kind}-{deliveries[0].pk}.{fingerprint}@{domain}>"


def comment_item(delivery: Delivery) -> dict:
    comment = delivery.comment
    return {
        "author": comment.author_name,
        # Plain text: the templates escape it again where it goes into HTML.
        "excerpt": Truncator(unescape(strip_tags(comment.body_html)).strip()).chars(300),
        "url": f"{comment.thread.url}#comment-{comment.pk}",
        "thread_title": comment.thread.title or comment.thread.url,
        "is_reply": delivery.reason != "thread",
    }


def _notification_subject(item: dict) -> str:
    verb = "replied to you" if item["is_reply"] else "commented"
    return f"{item['author']} {verb} on “{Truncator(item['thread_title']).chars(80)}”"


def notification_message(delivery: Delivery) -> EmailMultiAlternatives:
    item = comment_item(delivery)
    subject = _notification_subject(item)
    message = _message(delivery.subscriber, subject, "comment", {"item": item}, list_headers=True)
    message.extra_headers["Message-ID"] = message_id("delivery", [delivery])
    return message


def digest_message(subscriber: Subscriber, deliveries: list[Delivery]) -> EmailMultiAlternatives:
    items = [comment_item(delivery) for delivery in deliveries]
    subject = f"{len(items)} new comment{'s' if len(items) != 1 else ''} on {subscriber.site.name}"
    message = _message(subscriber, subject, "digest", {"items": items}, list_headers=True)
    message.extra_headers["Message-ID"] = message_id("digest", deliveries)
    return message


def confirmation_message(subscriber: Subscriber) -> EmailMultiAlternatives:
    token = tokens.make_token(subscriber, tokens.CONFIRM)
    context = {"confirm_url": link(reverse("notifications-confirm", args=[token]))}
    subject = f"Confirm your email for comment notifications on {subscriber.site.name}"
    return _message(subscriber, subject, "confirm", context, list_headers=False)


def moderator_alert_message(site, waiting: int) -> EmailMultiAlternatives:
    """To the site's moderators: comments wait in the queue (no reader data in the mail)."""
    queue_url = link(f"/moderate/{site.slug}/")
    context = {"site": site, "waiting": waiting, "queue_url": queue_url}
    verb = "waits" if waiting == 1 else "wait"
    subject = f"{waiting} comment{'s' if waiting != 1 else ''} {verb} for moderation on {site.name}"
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("notifications/email/moderators.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=list(site.moderator_emails),
        headers={"Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(
        render_to_string("notifications/email/moderators.html", context), "text/html"
    )
    return message


# ---- mail merge: one rendering per comment, a copy per recipient -----------------------------

RECIPIENT_PLACEHOLDER = "townhall-recipient@placeholder.invalid"
TOKEN_PLACEHOLDER = "TOWNHALLTOKENPLACEHOLDERxxxxxxxxxxxxxxxxxxxx"  # noqa: S105 (not a secret)
MESSAGE_ID_PLACEHOLDER = "<townhall-message-id-placeholder@townhall.invalid>"


class MergedNotification:
    """The notification about one comment, rendered and serialized once; each recipient's copy
    differs only by address, links and Message-ID, substituted in the bytes.

    ``for_recipient`` returns None when the serialized form does not hold the placeholders
    intact (an encoding that splits them); the caller then builds that message the usual way.
    """

    def __init__(self, delivery: Delivery) -> None:
        template = Subscriber(
            pk=0, site=delivery.subscriber.site, email=RECIPIENT_PLACEHOLDER, token_nonce=""
        )
        message = _message(
            template,
            _notification_subject(comment_item(delivery)),
            "comment",
            {"item": comment_item(delivery)},
            list_headers=True,
            token=TOKEN_PLACEHOLDER,
        )
        message.extra_headers["Message-ID"] = MESSAGE_ID_PLACEHOLDER
        self.from_email = message.from_email
        self.raw = message.message().as_bytes(linesep="\r\n")
        self.usable = all(
            placeholder.encode() in self.raw
            for placeholder in (RECIPIENT_PLACEHOLDER, TOKEN_PLACEHOLDER, MESSAGE_ID_PLACEHOLDER)
        )

    def for_recipient(self, delivery: Delivery) -> bytes | None:
        """The copy for this delivery's subscriber, with the delivery's own Message-ID."""
        subscriber = delivery.subscriber
        if not self.usable or not subscriber.email.isascii():
            return None
        raw = (
            self.raw.replace(RECIPIENT_PLACEHOLDER.encode(), subscriber.email.encode())
            .replace(
                TOKEN_PLACEHOLDER.encode(), tokens.make_token(subscriber, tokens.MANAGE).encode()
            )
            .replace(MESSAGE_ID_PLACEHOLDER.encode(), message_id("delivery", [delivery]).encode())
        )
        return None if b"TOWNHALLTOKEN" in raw or b"placeholder.invalid" in raw else raw
