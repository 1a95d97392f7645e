from __future__ import annotations

import secrets
import time
from pathlib import Path
from urllib.parse import urlencode

import jwt
import orjson
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

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


# The demo page's own script and style sheet: files, not inline, under its Content-Security-Policy.
ASSETS = {
    "demo.js": "text/javascript; charset=utf-8",
    "demo.css": "text/css; charset=utf-8",
}
ASSET_DIR = Path(__file__).parent / "static_src"


@require_safe
def asset(request: HttpRequest, name: str) -> HttpResponse:
    if name not in ASSETS:
        raise Http404(name)
    response = HttpResponse((ASSET_DIR / name).read_bytes(), content_type=ASSETS[name])
    response["Cache-Control"] = "no-cache"
    return response


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


DEMO_TOKEN_SECONDS = 300


@csrf_exempt  # replaced by the stricter check below: a JSON body from the demo's own origin
@require_POST
def sso_token(request: HttpRequest) -> HttpResponse:
    """The demo's stand-in for a publisher's login: signs an SSO token (docs/sso.md) for the
    name the visitor typed, with the demo site's secret.

    A cross-site form cannot send ``application/json`` and a cross-origin ``fetch`` carries its
    ``Origin``: only the demo page itself gets a token.
    """
    own = {f"{request.scheme}://{request.get_host()}".lower(), settings.PUBLIC_URL.lower()}
    if (request.headers.get("Origin") or "").rstrip("/").lower() not in own:
        return _json_error(403, "origin_not_allowed", "Only the demo page may ask for a token.")
    if request.content_type != "application/json":
        return _json_error(415, "json_required", "Send a JSON body.")
    try:
        body = orjson.loads(request.body or b"{}")
    except orjson.JSONDecodeError:
        return _json_error(400, "invalid_json", "The body is not JSON.")
    name = " ".join(str(body.get("name", "") if isinstance(body, dict) else "").split())[:80]
    if not name:
        return _json_error(400, "name_required", "Type a name to sign in with.")
    site = Site.objects.filter(slug=DEMO_SLUG).first()
    if site is None or not site.sso_secret:
        return _json_error(503, "demo_not_loaded", "Run `townhall demo` first.")
    now = int(time.time())
    claims = {
        "sub": "demo:" + name.lower(),
        "name": name,
        "aud": site.slug,
        "iat": now,
        "exp": now + DEMO_TOKEN_SECONDS,
        "jti": secrets.token_urlsafe(16),
    }
    token = jwt.encode(claims, site.sso_secret, algorithm="HS256")
    response = JsonResponse({"token": token})
    response["Cache-Control"] = "no-store"
    return response


def _json_error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)
