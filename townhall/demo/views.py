from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from townhall.core.errors import NotFound
from townhall.demo.seed import CAMPAIGN_SLUG, DEMO_SLUG, seed_article
from townhall.discussions.html import thread_html
from townhall.sites.models import Site
from townhall.sites.queries import access_site
from townhall.support.html import campaign_html
from townhall.widget.assets import embed_script_url

LANGUAGES = ("en", "de")  # ?lang=de shows the page, its goal bar and its comments in German
# The seed page writes its amounts with the symbol after the number: "5,000 $".
SEED_PATTERN = "#,##0 ¤"


def home(request: HttpRequest) -> HttpResponse:
    return redirect(reverse("demo-article"))


def article(request: HttpRequest) -> HttpResponse:
    """The seed article as an ordinary publisher page that embeds Townhall by one script tag,
    with the goal bar of its reader-support campaign rendered on the server."""
    canonical = f"http://127.0.0.1:{request.get_port()}{request.path}"
    asked = request.GET.get("lang", "en")
    lang = asked if asked in LANGUAGES else "en"
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
        "lang": lang,
        "canonical": canonical,
        "thread_html": thread_html(site, canonical).body.decode(),
        "embed_src": embed_script_url(),
        "campaign": CAMPAIGN_SLUG,
        "pattern": SEED_PATTERN,
        **_goal_bar(site, lang, canonical),
    }
    return render(request, "demo/article.html", context)


def _goal_bar(site: Site, lang: str, canonical: str) -> dict[str, str]:
    """The campaign's goal bar and the no-JavaScript address of its Support link; empty when the
    demo has no campaign (an older demo database), and the page shows empty elements."""
    try:
        bar = campaign_html(site, CAMPAIGN_SLUG, lang, pattern=SEED_PATTERN, return_url=canonical)
    except NotFound:
        return {"goal_bar": "", "support_href": ""}
    path = reverse("support:support-page", args=[site.slug, CAMPAIGN_SLUG])
    return {"goal_bar": bar, "support_href": f"{path}?{urlencode({'return_url': canonical})}"}
