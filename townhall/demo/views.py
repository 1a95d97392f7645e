from __future__ import annotations

import orjson
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from townhall.core.errors import NotFound
from townhall.demo.seed import DEMO_SLUG, seed_article
from townhall.discussions.pages import thread_page
from townhall.sites.queries import access_site


def home(request: HttpRequest) -> HttpResponse:
    return redirect(reverse("demo-article"))


def article(request: HttpRequest) -> HttpResponse:
    """The seed article, with its discussion rendered on the server from the thread API's page."""
    port = request.get_port()
    canonical = f"http://127.0.0.1:{port}{request.path}"
    try:
        site = access_site(DEMO_SLUG)
    except NotFound:
        return HttpResponse(
            "The demo site is not loaded: run `townhall demo` (make demo does).",
            status=503,
            content_type="text/plain",
        )
    sort = request.GET.get("sort", "newest")
    if sort not in ("newest", "oldest", "most_voted"):
        sort = "newest"
    page = orjson.loads(thread_page(site, canonical, sort=sort, limit=50, cursor=None).body)
    context = {
        "article": seed_article(),
        "site": site,
        "canonical": canonical,
        "thread": page["thread"],
        "comments": page["comments"],
        "sort": sort,
    }
    return render(request, "demo/article.html", context)
