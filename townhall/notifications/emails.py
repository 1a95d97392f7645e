"""The notification emails: rendered from templates, with one-click unsubscribe headers."""

from __future__ import annotations

from html import unescape

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import strip_tags
from django.utils.text import Truncator

from townhall.notifications import tokens
from townhall.notifications.models import Delivery, Subscriber


def link(path: str) -> str:
    return settings.PUBLIC_URL + path


def _manage_links(subscriber: Subscriber) -> dict[str, str]:
    token = tokens.make_token(subscriber, tokens.MANAGE)
    return {
        "unsubscribe_url": link(reverse("notifications-unsubscribe", args=[token])),
        "manage_url": link(reverse("notifications-manage", args=[token])),
    }


def _message(
    subscriber: Subscriber, subject: str, template: str, context: dict, *, list_headers: bool
) -> EmailMultiAlternatives:
    context = {"site": subscriber.site, "subscriber": subscriber, **context}
    headers = {"Auto-Submitted": "auto-generated"}
    if list_headers:
        links = _manage_links(subscriber)
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


def notification_message(delivery: Delivery) -> EmailMultiAlternatives:
    item = comment_item(delivery)
    verb = "replied to you" if item["is_reply"] else "commented"
    subject = f"{item['author']} {verb} on “{Truncator(item['thread_title']).chars(80)}”"
    return _message(delivery.subscriber, subject, "comment", {"item": item}, list_headers=True)


def digest_message(subscriber: Subscriber, deliveries: list[Delivery]) -> EmailMultiAlternatives:
    items = [comment_item(delivery) for delivery in deliveries]
    subject = f"{len(items)} new comment{'s' if len(items) != 1 else ''} on {subscriber.site.name}"
    return _message(subscriber, subject, "digest", {"items": items}, list_headers=True)


def confirmation_message(subscriber: Subscriber) -> EmailMultiAlternatives:
    token = tokens.make_token(subscriber, tokens.CONFIRM)
    context = {"confirm_url": link(reverse("notifications-confirm", args=[token]))}
    subject = f"Confirm your email for comment notifications on {subscriber.site.name}"
    return _message(subscriber, subject, "confirm", context, list_headers=False)


def moderator_alert_message(site, waiting: int) -> EmailMultiAlternatives:
    """To the site's moderators: comments wait in the queue (no reader data in the mail)."""
    queue_url = link("/admin/townhall_discussions/comment/?status__exact=pending")
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
