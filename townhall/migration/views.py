"""The staff import page, ``/moderate/<site>/import/``: upload an export file; the worker
imports it (``tasks.run_queued_import``); the page lists the site's runs and their reports."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from townhall.core.errors import PayloadTooLarge
from townhall.migration import app_settings
from townhall.migration.actions import do_queue_import
from townhall.migration.engine import ImportReport
from townhall.migration.forms import ImportForm
from townhall.migration.models import ImportRun
from townhall.moderation import queries as moderation_queries
from townhall.moderation import web

RUNS_SHOWN = 50


@web.moderator_page
@require_http_methods(["GET", "POST"])
def staff_import(request: HttpRequest, slug: str) -> HttpResponse:
    site = moderation_queries.access_moderated_site(request.user, slug)
    limit = app_settings.import_max_bytes()
    form = ImportForm(max_bytes=limit)
    if request.method == "POST":
        # Refused before a byte of the body is read (the form would store it first).
        if _declared_length(request) > limit + 64 * 1024:
            raise PayloadTooLarge(f"The file is over the limit of {limit} bytes.")
        form = ImportForm(request.POST, request.FILES, max_bytes=limit)
        if form.is_valid():
            data = form.cleaned_data
            run = do_queue_import(
                site,
                data["file"],
                format=data["format"],
                dry_run=data["dry_run"],
                base_url=data["base_url"] or None,
                requested_by=request.user,
            )
            messages.success(request, f"{run.filename} is queued; this page shows its report.")
            return redirect("moderation:migration:staff-import", site.slug)
    runs = [
        (run, ImportReport.from_dict(run.report).lines() if run.report else [])
        for run in ImportRun.objects.filter(site=site).order_by("-created", "-pk")[:RUNS_SHOWN]
    ]
    context = {"site": site, "form": form, "runs": runs, "max_bytes": limit}
    return web.page(
        request, "migration/staff_import.html", context, status=400 if form.errors else 200
    )


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0
