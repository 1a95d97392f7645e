"""Reader support's server-rendered pages.

Public: the test checkout of demo campaigns (``checkout="test"``: no payment provider, a page
that says so and records a settled "test" contribution) and the support page that the goal
bar's Support link opens without JavaScript. Staff: a "Support" section of the moderators'
pages (``/moderate/<site>/support/``): campaigns, their contributions, manual entry and CSV
import. All with the moderators' pages' strict CSP; every form has CSRF protection.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from townhall.core.clients import client_fingerprint
from townhall.core.errors import BadRequest, Conflict, NotFound, TownhallError
from townhall.core.ratelimit import enforce_rate
from townhall.identity.models import Commenter
from townhall.moderation import queries as moderation_queries
from townhall.moderation import web
from townhall.sites.queries import access_site
from townhall.support import app_settings, checkout, queries
from townhall.support.actions import do_record_contribution
from townhall.support.forms import ContributionForm, ImportForm, SupportForm
from townhall.support.imports import describe, do_import_contributions
from townhall.support.models import Campaign, Checkout, ContributionSource
from townhall.support.money import exponent, format_money, locale_for, parse_amount
from townhall.support.tokens import BadToken, read_test_checkout_token

PRESETS = (5, 10, 25, 50)  # major units offered on the support page
STRIPE_CHECKOUT_ORIGIN = "https://checkout.stripe.com"

# ---- public: test checkout, support page -----------------------------------------------------


def public_page(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Domain errors become a plain error page; the moderators' pages' security headers."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            response = view(request, *args, **kwargs)
        except TownhallError as error:
            context = {"error": error, "assets": web.asset_urls()}
            response = render(request, "support/public_error.html", context, status=error.status)
        targets = getattr(response, "form_targets", ())
        web.secure_response(response)
        if targets:
            # Browsers hold a form's redirect to form-action too: the checkout or the article.
            allowed = " ".join(["'self'", *sorted(set(targets))])
            csp = response["Content-Security-Policy"]
            response["Content-Security-Policy"] = csp.replace(
                "form-action 'self'", f"form-action {allowed}"
            )
        return response

    return wrapper


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@public_page
@require_http_methods(["GET", "POST"])
def test_checkout(request: HttpRequest, token: str) -> HttpResponseBase:
    """GET: a page that says it is a test, with "Pay (test mode)"; POST: a settled "test"
    contribution (once per link), then back to the article."""
    try:
        chosen = read_test_checkout_token(token)
    except BadToken as error:
        raise BadRequest(str(error), code="invalid_checkout_link") from None
    campaign = (
        Campaign.objects.select_related("site")
        .filter(pk=chosen.campaign_id, checkout=Checkout.TEST)
        .first()
    )
    if campaign is None:
        raise NotFound("This test checkout is for no campaign.", code="unknown_campaign")
    if queries.available_checkout(campaign) != Checkout.TEST:
        raise Conflict("This campaign takes no contributions now.", code="checkout_unavailable")
    if request.method == "POST":
        commenter = None
        if chosen.commenter_id is not None:
            readers = Commenter.objects.filter(site_id=campaign.site_id)
            commenter = readers.filter(pk=chosen.commenter_id).first()
        do_record_contribution(
            campaign,
            amount=chosen.amount,
            currency=campaign.currency,
            source=ContributionSource.TEST,
            external_id=f"test:{chosen.nonce}",
            commenter=commenter,
            show_badge=chosen.show_badge,
        )
        return redirect(chosen.return_url)
    context = {
        "campaign": campaign,
        "amount": format_money(chosen.amount, campaign.currency, locale_for("en")),
        "return_url": chosen.return_url,
        "badge": chosen.show_badge,
        "assets": web.asset_urls(),
    }
    response = render(request, "support/test_checkout.html", context)
    response.form_targets = [_origin(chosen.return_url)]  # type: ignore[attr-defined]
    return response


@public_page
@require_http_methods(["GET", "POST"])
def support_page(request: HttpRequest, site: str, slug: str) -> HttpResponseBase:
    """Where the goal bar's Support link goes without JavaScript: choose an amount, then on to
    the checkout. The widget does the same through the API, with the reader's identity."""
    campaign = queries.access_campaign(access_site(site), slug)
    kind = queries.available_checkout(campaign)
    if kind is None:
        raise Conflict("This campaign takes no contributions now.", code="checkout_unavailable")
    return_url = _return_url(campaign, request.GET.get("return_url", ""))
    if kind == Checkout.DONATION_URL:
        return redirect(campaign.donation_url)
    form = SupportForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        enforce_rate(
            request,
            group=f"checkout:{campaign.site_id}",
            value=client_fingerprint(request),
            rate=checkout.CHECKOUT_RATE,
        )
        try:
            amount = parse_amount(form.cleaned_data["amount"], campaign.currency)
        except ValueError as error:
            raise BadRequest(f"The amount: {error}.", code="invalid_amount") from None
        url = checkout.start_checkout(campaign, amount=amount, return_url=return_url)
        return redirect(url)
    where = locale_for("en")
    context = {
        "campaign": campaign,
        "raised": format_money(campaign.settled_total, campaign.currency, where),
        "goal": format_money(campaign.goal, campaign.currency, where),
        "presets": [
            (
                major,
                format_money(major * 10 ** exponent(campaign.currency), campaign.currency, where),
            )
            for major in PRESETS
        ],
        "return_url": return_url,
        "assets": web.asset_urls(),
    }
    response = render(request, "support/support_page.html", context)
    response.form_targets = [  # type: ignore[attr-defined]
        _origin(app_settings.public_url()),
        STRIPE_CHECKOUT_ORIGIN,
    ]
    return response


def _return_url(campaign: Campaign, given: str) -> str:
    """The article to come back to when it is one of the site's, else the site's first origin
    (a link is made of it: never a ``javascript:`` URL or another site's page)."""
    try:
        return checkout.clean_return_url(campaign, given)
    except TownhallError:
        origins = campaign.site.allowed_origins
        return f"{origins[0]}/" if origins else ""


# ---- staff: /moderate/<site>/support/ --------------------------------------------------------


@web.moderator_page
@require_safe
def staff_campaigns(request: HttpRequest, slug: str) -> HttpResponse:
    site = moderation_queries.access_moderated_site(request.user, slug)
    where = locale_for("en")
    rows = [
        (
            campaign,
            format_money(campaign.settled_total, campaign.currency, where),
            format_money(campaign.goal, campaign.currency, where),
            queries.is_active(campaign),
        )
        for campaign in queries.site_campaigns(site)
    ]
    return web.page(request, "support/staff_campaigns.html", {"site": site, "rows": rows})


@web.moderator_page
@require_safe
def staff_campaign(request: HttpRequest, slug: str, campaign: str) -> HttpResponse:
    site = moderation_queries.access_moderated_site(request.user, slug)
    found = queries.access_campaign(site, campaign)
    return _campaign_page(request, found, ContributionForm(), ImportForm())


@web.moderator_page
@require_POST
def staff_add_contribution(request: HttpRequest, slug: str, campaign: str) -> HttpResponse:
    """A contribution received outside Townhall, counted as settled."""
    site = moderation_queries.access_moderated_site(request.user, slug)
    found = queries.access_campaign(site, campaign)
    form = ContributionForm(request.POST)
    if form.is_valid():
        try:
            amount = parse_amount(form.cleaned_data["amount"], found.currency)
        except ValueError as error:
            form.add_error("amount", f"{error}.")
        else:
            day = form.cleaned_data["date"]
            do_record_contribution(
                found,
                amount=amount,
                currency=found.currency,
                source=ContributionSource.MANUAL,
                note=form.cleaned_data["note"],
                settled_at=datetime.combine(day, time(), tzinfo=UTC) if day else None,
            )
            shown = format_money(amount, found.currency, locale_for("en"))
            messages.success(request, f"Added {shown} to {found.title}.")
            return redirect("support:staff-campaign", site.slug, found.slug)
    return _campaign_page(request, found, form, ImportForm(), status=400)


@web.moderator_page
@require_POST
def staff_import(request: HttpRequest, slug: str, campaign: str) -> HttpResponse:
    """A CSV file of contributions: checked in full, written only when every row is good."""
    site = moderation_queries.access_moderated_site(request.user, slug)
    found = queries.access_campaign(site, campaign)
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _campaign_page(request, found, ContributionForm(), form, status=400)
    report = do_import_contributions(
        found, form.cleaned_data["file"], dry_run=form.cleaned_data["dry_run"]
    )
    found.refresh_from_db(fields=["settled_total"])
    extra = {"report": report, "report_lines": describe(report, found.currency)}
    return _campaign_page(
        request, found, ContributionForm(), ImportForm(), status=200 if report.ok else 400, **extra
    )


def _campaign_page(
    request: HttpRequest,
    campaign: Campaign,
    form: ContributionForm,
    import_form: ImportForm,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    where = locale_for("en")
    rows = [
        (
            item,
            format_money(item.amount, item.currency, where),
            format_money(item.refunded_amount, item.currency, where)
            if item.refunded_amount
            else "",
        )
        for item in queries.recent_contributions(campaign)
    ]
    context = {
        "site": campaign.site,
        "campaign": campaign,
        "raised": format_money(campaign.settled_total, campaign.currency, where),
        "goal": format_money(campaign.goal, campaign.currency, where),
        "active": queries.is_active(campaign),
        "rows": rows,
        "form": form,
        "import_form": import_form,
        "now": timezone.now(),
        **extra,
    }
    return web.page(request, "support/staff_campaign.html", context, status=status)
