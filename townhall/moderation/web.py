"""What every moderators' page shares: the login check, the security headers, error pages,
and the two ways an action answers (a redirect with a message for a plain form; JSON for
``moderate.js``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from townhall.core.errors import BadRequest, Forbidden, NotFound, TownhallError
from townhall.discussions.models import Comment
from townhall.moderation import queries
from townhall.moderation.assets import asset
from townhall.moderation.models import AuditEntry
from townhall.sites.models import Site

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def secure_response(response: HttpResponseBase) -> HttpResponseBase:
    response["Content-Security-Policy"] = CSP
    response["Referrer-Policy"] = "same-origin"
    if "Cache-Control" not in response:
        response["Cache-Control"] = "no-store"
    return response


def secured(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return secure_response(view(request, *args, **kwargs))

    return wrapper


def moderator_page(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Login required; domain errors become an error page, a message, or JSON."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            if wants_json(request):
                error = {"code": "login_required", "message": "Your session ended: log in again."}
                return JsonResponse({"error": error}, status=401)
            return redirect_to_login(back(request), reverse("moderation:login"))
        try:
            return view(request, *args, **kwargs)
        except TownhallError as error:
            return error_response(request, error)

    return secured(wrapper)


def wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def back(request: HttpRequest, slug: str | None = None) -> str:
    """Where a form came from (its ``next``, when it is a page of this site's), else the queue."""
    target = request.POST.get("next", "") if request.method == "POST" else request.get_full_path()
    prefix = reverse("moderation:queue", args=[slug]) if slug else reverse("moderation:home")
    safe = url_has_allowed_host_and_scheme(target, allowed_hosts=None)
    return target if safe and target.startswith(prefix) else prefix


def error_response(request: HttpRequest, error: TownhallError) -> HttpResponse:
    if isinstance(error, NotFound) and not queries.moderated_sites(request.user).exists():
        error = Forbidden("Your account moderates no site.", code="no_sites")
    if wants_json(request):
        return JsonResponse(error.as_dict(), status=error.status)
    slug = request.resolver_match.kwargs.get("slug") if request.resolver_match else None
    if request.method == "POST" and error.status in (400, 409) and slug:
        messages.error(request, error.message)
        return redirect(back(request, slug))
    return page(request, "moderation/error.html", {"error": error}, status=error.status)


def page(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    context = {
        "assets": asset_urls(),
        "notices": notices(request),
        "here": request.get_full_path(),
        **context,
    }
    return render(request, template, context, status=status)


def asset_urls() -> dict[str, str]:
    return {
        ext: reverse("moderation:asset", args=[asset(ext).digest, ext]) for ext in ("js", "css")
    }


@dataclass(frozen=True)
class Notice:
    text: str
    level: str
    undo: list[int]


def notices(request: HttpRequest) -> list[Notice]:
    """This session's messages; an action's carries the audit entries its Undo button undoes."""
    found = []
    for message in messages.get_messages(request):
        tags = message.extra_tags or ""
        undo = [int(i) for i in tags[5:].split(",")] if tags.startswith("undo:") else []
        found.append(Notice(str(message), message.level_tag, undo))
    return found


def cleaned(form: forms.Form) -> dict[str, Any]:
    if not form.is_valid():
        field, errors = next(iter(form.errors.items()))
        raise BadRequest(str(errors[0]), code="invalid_form", field=field)
    return form.cleaned_data


def done(
    request: HttpRequest,
    site: Site,
    message: str,
    entries: Iterable[AuditEntry] = (),
    comment_ids: Iterable[int] = (),
) -> HttpResponse:
    """The answer to an action: JSON for the script, else back to the page with a message."""
    ids = [entry.pk for entry in entries]
    if wants_json(request):
        body: dict[str, Any] = {"ok": True, "entries": ids, "message": message}
        body["comments"] = list(
            Comment.objects.filter(pk__in=set(comment_ids))
            .order_by("pk")
            .values("id", "status", "featured", "open_flags")
        )
        if ids:
            body["undo_url"] = reverse("moderation:undo", args=[site.slug, ids[0]])
        return JsonResponse(body)
    messages.success(request, message, extra_tags=f"undo:{','.join(map(str, ids))}" if ids else "")
    return redirect(back(request, site.slug))
