"""Readers on the moderators' pages: find one, download their data, delete them; and the
sign-in of a moderator by the publisher's SSO token (a ``moderator`` role)."""

from __future__ import annotations

import orjson
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from townhall.core.errors import Forbidden, NotFound, TownhallError
from townhall.identity.actions import do_sign_in_sso
from townhall.identity.data import do_delete_commenter, export_commenter
from townhall.identity.models import Commenter
from townhall.moderation import queries, web
from townhall.sites.queries import access_site

SEARCH_LIMIT = 50


def _access_reader(site, commenter_id: int) -> Commenter:
    commenter = Commenter.objects.select_related("site").filter(pk=commenter_id, site=site).first()
    if commenter is None:
        raise NotFound("There is no such reader on this site.", code="reader_not_found")
    return commenter


@web.moderator_page
@require_safe
def readers(request: HttpRequest, slug: str) -> HttpResponse:
    site = queries.access_moderated_site(request.user, slug)
    text = " ".join(request.GET.get("q", "").split())[:200]
    found = Commenter.objects.none()
    if text:
        match = Q(display_name__icontains=text) | Q(email__iexact=text)
        if text.isdigit():
            match |= Q(pk=int(text))
        found = Commenter.objects.filter(match, site=site).order_by("-created")[:SEARCH_LIMIT]
    context = {"site": site, "q": text, "readers": list(found), "searched": bool(text)}
    return web.page(request, "moderation/readers.html", context)


@web.moderator_page
@require_safe
def reader_export(request: HttpRequest, slug: str, commenter_id: int) -> HttpResponse:
    site = queries.access_moderated_site(request.user, slug)
    commenter = _access_reader(site, commenter_id)
    response = HttpResponse(
        orjson.dumps(export_commenter(commenter), option=orjson.OPT_INDENT_2),
        content_type="application/json",
    )
    response["Content-Disposition"] = f'attachment; filename="reader-{commenter.pk}.json"'
    return response


@web.moderator_page
@require_POST
def reader_delete(request: HttpRequest, slug: str, commenter_id: int) -> HttpResponse:
    site = queries.access_moderated_site(request.user, slug)
    commenter = _access_reader(site, commenter_id)
    if request.POST.get("confirm") != "yes":
        messages.error(request, "Tick the box to confirm the deletion.")
        return redirect("moderation:readers", site.slug)
    counts = do_delete_commenter(commenter)
    messages.success(
        request,
        f"Deleted the reader: {counts['comments']} comments, {counts['votes']} votes, "
        f"{counts['subscriptions']} subscriptions.",
    )
    return redirect("moderation:readers", site.slug)


@web.secured
@require_http_methods(["GET", "POST"])
def sso_login(request: HttpRequest) -> HttpResponse:
    """A moderator signs in with a token from the publisher's login whose ``roles`` hold
    ``moderator`` (a form with CSRF, like the password login)."""
    error: TownhallError | None = None
    if request.method == "POST":
        try:
            site = access_site(request.POST.get("site", ""))
            commenter = do_sign_in_sso(site, request.POST.get("token", "").strip())
            user = commenter.staff_user
            if user is None or not queries.moderated_sites(user).filter(pk=site.pk).exists():
                raise Forbidden("This sign-in does not make you a moderator of the site.")
        except TownhallError as refused:
            error = refused
        else:
            auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("moderation:queue", site.slug)
    status = error.status if error else 200
    return web.page(request, "moderation/sso_login.html", {"error": error}, status=status)
