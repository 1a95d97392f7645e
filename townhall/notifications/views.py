"""The pages behind the links in notification emails. Nothing changes on GET (mail scanners
follow links); each page's button POSTs. One-click unsubscribe (RFC 8058) POSTs directly."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from townhall.notifications import actions, tokens
from townhall.notifications.models import Frequency, Subscription


def _bad_link(request: HttpRequest, error: tokens.BadLink) -> HttpResponse:
    return render(
        request,
        "notifications/page.html",
        {"title": "Link not valid", "message": str(error)},
        status=400,
    )


@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    try:
        subscriber, _ = tokens.access_subscriber(token, tokens.CONFIRM)
    except tokens.BadLink as error:
        return _bad_link(request, error)
    if request.method == "POST":
        actions.do_confirm_subscriber(subscriber)
        manage = tokens.make_token(subscriber, tokens.MANAGE)
        return render(
            request,
            "notifications/page.html",
            {
                "title": "Address confirmed",
                "message": (
                    f"You will get the notifications you asked for from {subscriber.site.name}."
                ),
                "manage_token": manage,
            },
        )
    return render(request, "notifications/confirm.html", {"subscriber": subscriber})


@csrf_exempt  # mail clients POST one-click unsubscribes without a session (RFC 8058)
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        subscriber, _ = tokens.access_subscriber(token, tokens.MANAGE)
    except tokens.BadLink as error:
        return _bad_link(request, error)
    if request.method == "POST":
        actions.do_unsubscribe(subscriber)
        return render(
            request,
            "notifications/page.html",
            {
                "title": "Unsubscribed",
                "message": (
                    f"You will get no more comment notifications from {subscriber.site.name}."
                ),
            },
        )
    return render(request, "notifications/unsubscribe.html", {"subscriber": subscriber})


@require_http_methods(["GET", "POST"])
def manage(request: HttpRequest, token: str) -> HttpResponse:
    try:
        subscriber, _ = tokens.access_subscriber(token, tokens.MANAGE)
    except tokens.BadLink as error:
        return _bad_link(request, error)
    notice = ""
    if request.method == "POST":
        if "frequency" in request.POST and request.POST["frequency"] in Frequency.values:
            actions.do_set_frequency(subscriber, request.POST["frequency"])
            subscriber.refresh_from_db()
            notice = "Saved."
        elif (remove := _subscription_id(request.POST.get("remove", ""))) is not None:
            actions.do_unsubscribe(subscriber, subscription_id=remove)
            notice = "Removed."
    subscriptions = Subscription.objects.filter(subscriber=subscriber).select_related(
        "thread", "comment"
    )
    return render(
        request,
        "notifications/manage.html",
        {
            "subscriber": subscriber,
            "subscriptions": subscriptions,
            "frequencies": Frequency.choices,
            "notice": notice,
            "token": token,
        },
    )


def _subscription_id(value: str) -> int | None:
    """A subscription id from a form, or None ("²".isdigit() is true, int("²") is an error)."""
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        return None
    return int(value)
