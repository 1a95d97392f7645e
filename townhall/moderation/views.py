"""The moderators' pages under ``/moderate/``: server-rendered, usable without JavaScript.

Every page needs a login and resolves the site, comment, ban or log entry of its URL through the
``access_*`` queries (another site's ids are "not found"). Writes are POSTs with CSRF; without
JavaScript they redirect back with a message that carries an Undo button; ``moderate.js`` sends
the same forms with ``Accept: application/json`` and gets ``{ok, entries, message, comments}``
or ``{error: {code, message}}`` with a 4xx.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.utils.cache import get_conditional_response
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from townhall.core.clients import client_fingerprint
from townhall.core.errors import BadRequest, Forbidden, RateLimited
from townhall.core.ratelimit import enforce_rate
from townhall.discussions.models import Comment
from townhall.moderation import actions, queries, web
from townhall.moderation.assets import asset
from townhall.moderation.forms import (
    DURATION_LABELS,
    BanAuthorForm,
    BanForm,
    BulkForm,
    DecisionForm,
    FeatureForm,
    RulesForm,
    SearchForm,
    UndoForm,
)
from townhall.moderation.models import Flag
from townhall.sites.actions import do_set_moderation_rules

PER_PAGE = 50
LOGIN_RATE = "30/h"
IMMUTABLE = "public, max-age=31536000, immutable"
DONE = {
    "approve": "Approved the comment by {name}.",
    "reject": "Rejected the comment by {name}.",
    "spam": "Marked the comment by {name} as spam.",
}
DONE_BULK = {
    "approve": "Approved {n}.",
    "reject": "Rejected {n}.",
    "spam": "Marked {n} as spam.",
}
RULE_NAMES = {
    "banned": "Banned",
    "banned_words": "Banned word",
    "suspect_words": "Suspect word",
    "links": "Links",
    "repeated": "Repeated",
    "fast_new_commenter": "Fast new commenter",
    "toxicity": "Toxicity",
    "akismet": "Akismet",
    "mode": "Pre-moderation",
    "flags": "Reports",
}

# ---- login, assets --------------------------------------------------------------------------


class LoginView(auth_views.LoginView):
    template_name = "moderation/login.html"
    redirect_authenticated_user = True
    next_page = "moderation:home"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Password guesses are limited per client (off, like every limit, with
        TOWNHALL_RATELIMIT=0)."""
        try:
            fingerprint = client_fingerprint(request)
            enforce_rate(request, group="moderate-login", value=fingerprint, rate=LOGIN_RATE)
        except RateLimited as error:
            response = web.page(request, "moderation/error.html", {"error": error}, status=429)
            response["Retry-After"] = str(error.retry_after)
            return response
        return super().post(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "assets": web.asset_urls()}


login = web.secured(LoginView.as_view())
logout = web.secured(auth_views.LogoutView.as_view(next_page="moderation:login"))


@require_safe
def asset_file(request: HttpRequest, digest: str, ext: str) -> HttpResponseBase:
    """moderate.js and moderate.css; the current file whatever the hash, kept a year when it
    matches."""
    item = asset(ext)
    etag = f'"{item.digest}"'
    response = get_conditional_response(request, etag=etag) or HttpResponse(
        item.body, content_type=item.content_type
    )
    response["ETag"] = etag
    response["Cache-Control"] = IMMUTABLE if digest == item.digest else "no-cache"
    return web.secure_response(response)


# ---- pages ----------------------------------------------------------------------------------


@web.moderator_page
@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """The sites this account moderates with their queues' sizes; the queue when only one."""
    sites = list(queries.moderated_sites(request.user))
    if not sites:
        raise Forbidden("Your account moderates no site.", code="no_sites")
    if len(sites) == 1:
        return redirect("moderation:queue", sites[0].slug)
    rows = [(site, queries.queue_counts(site)) for site in sites]
    return web.page(request, "moderation/home.html", {"rows": rows, "queues": queries.QUEUES})


@web.moderator_page
@require_safe
def queue(request: HttpRequest, slug: str) -> HttpResponse:
    site = queries.access_moderated_site(request.user, slug)
    name = request.GET.get("queue", "pending")
    comments = queries.queue(site, name).prefetch_related(_open_reports())
    page = Paginator(comments, PER_PAGE).get_page(request.GET.get("page"))
    context = {"site": site, "queue": name, "counts": queries.queue_counts(site), "page": page}
    return web.page(request, "moderation/queue.html", {**context, "items": _items(page)})


@web.moderator_page
@require_safe
def search(request: HttpRequest, slug: str) -> HttpResponse:
    site = queries.access_moderated_site(request.user, slug)
    form = SearchForm(request.GET)
    searched = bool(request.GET) and form.is_valid()
    found: Iterable[Comment] = ()
    if searched:
        query, status = form.cleaned_data["q"], form.cleaned_data["status"] or None
        found = queries.search_comments(site, query, status).prefetch_related(_open_reports())
    context = {"site": site, "form": form, "items": _items(found), "searched": searched}
    return web.page(request, "moderation/search.html", {**context, "limit": queries.SEARCH_LIMIT})


@web.moderator_page
@require_http_methods(["GET", "POST"])
def bans(request: HttpRequest, slug: str) -> HttpResponse:
    site = queries.access_moderated_site(request.user, slug)
    form = BanForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            ban = actions.do_ban(request.user, site, **form.cleaned_data)
        except BadRequest as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, f"Banned {ban.get_kind_display().lower()} {ban.value}.")
            return redirect("moderation:bans", site.slug)
    page = Paginator(queries.bans(site), PER_PAGE).get_page(request.GET.get("page"))
    rows = [(ban, queries.ban_in_force(ban)) for ban in page]
    context = {"site": site, "form": form, "page": page, "rows": rows}
    return web.page(request, "moderation/bans.html", context, status=400 if form.errors else 200)


@web.moderator_page
@require_safe
def log(request: HttpRequest, slug: str) -> HttpResponse:
    site = queries.access_moderated_site(request.user, slug)
    entries = queries.audit_log(site).select_related("comment__thread")
    page = Paginator(entries, PER_PAGE).get_page(request.GET.get("page"))
    rows = [(entry, queries.can_undo(entry)) for entry in page]
    return web.page(request, "moderation/log.html", {"site": site, "page": page, "rows": rows})


@web.moderator_page
@require_http_methods(["GET", "POST"])
def rules(request: HttpRequest, slug: str) -> HttpResponse:
    site = queries.access_moderated_site(request.user, slug)
    data = request.POST if request.method == "POST" else None
    form = RulesForm(data, initial=RulesForm.initial_for(site))
    if form.is_valid():
        try:
            do_set_moderation_rules(site, **form.cleaned_data)
        except BadRequest as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, "The moderation rules are saved.")
            return redirect("moderation:rules", site.slug)
    context = {"site": site, "form": form}
    return web.page(request, "moderation/rules.html", context, status=400 if form.errors else 200)


# ---- actions --------------------------------------------------------------------------------


@web.moderator_page
@require_POST
def decide(request: HttpRequest, slug: str, comment_id: int) -> HttpResponse:
    """Approve, reject or spam one comment."""
    site = queries.access_moderated_site(request.user, slug)
    comment = queries.access_moderated_comment(request.user, site, comment_id)
    decision = web.cleaned(DecisionForm(request.POST))["decision"]
    entry = actions.do_moderate_comment(request.user, comment, decision)
    message = DONE[decision].format(name=comment.author_name)
    return web.done(request, site, message, [entry], [comment.pk])


@web.moderator_page
@require_POST
def ban_author(request: HttpRequest, slug: str, comment_id: int) -> HttpResponse:
    """Bans the author by every key known (identity, email, client) and rejects the comment."""
    site = queries.access_moderated_site(request.user, slug)
    comment = queries.access_moderated_comment(request.user, site, comment_id)
    data = web.cleaned(BanAuthorForm(request.POST))
    entries = actions.do_ban_author_entries(request.user, comment, **data)
    how_long = DURATION_LABELS[data["duration"]].lower()
    message = f"Banned {comment.author_name} ({how_long}) and rejected the comment."
    return web.done(request, site, message, entries, [comment.pk])


@web.moderator_page
@require_POST
def feature(request: HttpRequest, slug: str, comment_id: int) -> HttpResponse:
    site = queries.access_moderated_site(request.user, slug)
    comment = queries.access_moderated_comment(request.user, site, comment_id)
    featured = bool(web.cleaned(FeatureForm(request.POST))["featured"])
    entry = actions.do_feature_comment(request.user, comment, featured)
    verb = "Featured" if featured else "No longer featuring"
    message = f"{verb} the comment by {comment.author_name}."
    return web.done(request, site, message, [entry], [comment.pk])


@web.moderator_page
@require_POST
def bulk(request: HttpRequest, slug: str) -> HttpResponse:
    """The same decision on the selected comments."""
    site = queries.access_moderated_site(request.user, slug)
    data = web.cleaned(BulkForm(request.POST))
    comments = [queries.access_moderated_comment(request.user, site, i) for i in data["comment"]]
    entries = actions.do_moderate_comments(request.user, comments, data["decision"])
    count = f"{len(entries)} comment{'' if len(entries) == 1 else 's'}"
    message = DONE_BULK[data["decision"]].format(n=count)
    return web.done(request, site, message, entries, [c.pk for c in comments])


@web.moderator_page
@require_POST
def undo(request: HttpRequest, slug: str, entry_id: int) -> HttpResponse:
    """Undoes an action: its entry, and the others of the same action given as ``entry``."""
    site = queries.access_moderated_site(request.user, slug)
    ids = dict.fromkeys([entry_id, *web.cleaned(UndoForm(request.POST))["entry"]])
    entries = [queries.access_audit_entry(request.user, site, i) for i in ids]
    undone = actions.do_undo_entries(request.user, entries)
    left = len(entries) - len(undone)
    message = "Undone." if not left else f"Undone, except {left} that had changed since."
    comment_ids = [entry.comment_id for entry in entries if entry.comment_id]
    return web.done(request, site, message, comment_ids=comment_ids)


@web.moderator_page
@require_POST
def lift_ban(request: HttpRequest, slug: str, ban_id: int) -> HttpResponse:
    site = queries.access_moderated_site(request.user, slug)
    ban = actions.do_lift_ban(request.user, queries.access_ban(request.user, site, ban_id))
    message = f"Lifted the ban of {ban.get_kind_display().lower()} {ban.value}."
    return web.done(request, site, message)


# ---- presenting comments --------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    comment: Comment
    context: list[Comment]
    reasons: list[dict[str, str]]
    toxicity: float | None
    reports: list[Flag]


def _open_reports() -> Prefetch:
    unresolved = Flag.objects.filter(resolved=False).order_by("created")
    return Prefetch("flags", queryset=unresolved, to_attr="open_reports")


def _items(comments: Iterable[Comment]) -> list[Item]:
    """Precondition: ``comments`` come from the queue or search queries (parent chain joined)
    with ``_open_reports`` prefetched."""
    return [
        Item(
            comment=comment,
            context=queries.thread_context(comment),
            reasons=[
                {**reason, "name": RULE_NAMES.get(reason.get("rule", ""), reason.get("rule", ""))}
                for reason in (comment.moderation or {}).get("reasons", [])
            ],
            toxicity=(comment.moderation or {}).get("toxicity"),
            reports=getattr(comment, "open_reports", []),
        )
        for comment in comments
    ]
