from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from townhall.core.errors import NotFound
from townhall.demo.seed import DEMO_SLUG, seed_article
from townhall.discussions.html import thread_html
from townhall.sites.queries import access_site
from townhall.widget.assets import embed_script_url


def home(request: HttpRequest) -> HttpResponse:
    return redirect(reverse("demo-article"))


def article(request: HttpRequest) -> HttpResponse:
    """The seed article as an ordinary publisher page that embeds Townhall by one script tag."""
    canonical = f"http://127.0.0.1:{request.get_port()}{request.path}"
    try:
        site = access_site(DEMO_SLUG)
    except NotFound:
        return HttpResponse(
            "The demo site is not loaded: run `townhall demo` (make demo does).",
            status=503,
            content_type="text/plain",
        )
    context = {
        "article": seed_article(),
        "site": site,
        "canonical": canonical,
        "thread_html": thread_html(site, canonical).body.decode(),
        "embed_src": embed_script_url(),
    }
    return render(request, "demo/article.html", context)
