"""The goal bar, rendered on the server: ticks at 0, half and the goal, the amount raised, a
``role="progressbar"`` element and the Support link, with amounts written the way the reader's
locale writes money (Babel).

Everything from the database is escaped by the template; the fragment carries no script and no
inline event handler, only a ``style`` width on the bar's fill.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import Any
from urllib.parse import urlencode

from babel import Locale
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import SafeString

from townhall.sites.models import Site
from townhall.sites.queries import access_site
from townhall.support import app_settings
from townhall.support.models import Campaign, Checkout
from townhall.support.money import format_money, locale_for, to_major
from townhall.support.queries import access_campaign, available_checkout
from townhall.widget.assets import SUPPORT_STRINGS, locales

TEMPLATE = "support/goal_bar.html"


def campaign_html(
    site: Site | str,
    slug: str,
    locale: str = "en",
    *,
    pattern: str | None = None,
    return_url: str | None = None,
) -> SafeString:
    """The goal bar of the site's campaign ``slug`` as safe HTML, for a page template.

    ``locale`` is a language tag ("en", "de-DE"; English when unknown). ``pattern`` is a CLDR
    number pattern that places the symbol instead of the locale: ``"#,##0 ¤"`` gives the seed
    page's "5,000 $". ``return_url`` is the article to come back to after a contribution. Raises
    NotFound (``unknown_site``, ``unknown_campaign``).
    """
    if isinstance(site, str):
        site = access_site(site)
    return render_campaign(
        access_campaign(site, slug), locale, pattern=pattern, return_url=return_url
    )


def render_campaign(
    campaign: Campaign,
    locale: str | None,
    *,
    pattern: str | None = None,
    return_url: str | None = None,
) -> SafeString:
    """Precondition: ``campaign.site`` is loaded."""
    return SafeString(
        render_to_string(TEMPLATE, goal_bar_context(campaign, locale, pattern, return_url))
    )


def goal_bar_context(
    campaign: Campaign, locale: str | None, pattern: str | None, return_url: str | None
) -> dict[str, Any]:
    where = locale_for(locale)
    currency = campaign.currency

    def money(amount: int) -> str:
        return format_money(amount, currency, where, pattern)

    goal, raised = campaign.goal, campaign.settled_total
    half = goal // 2
    percent = min(Decimal(100), Decimal(max(raised, 0)) * 100 / goal)
    next_goal = next((value for value in campaign.stretch_goals if value > raised), None)
    checkout = available_checkout(campaign)
    words = _words(where)
    return {
        "words": {
            "raised": words["raised"],
            "next_goal": words["nextGoal"],
            "progress_label": words["progressLabel"].format(goal=money(goal)),
            "value_text": words["valueText"].format(raised=money(raised), goal=money(goal)),
        },
        "campaign": campaign,
        "lang": str(where).replace("_", "-"),
        "ticks": [money(0), money(half), money(goal)],
        "raised": money(raised),
        "goal": money(goal),
        "stretch": money(next_goal) if next_goal is not None and raised >= goal else None,
        "value_max": _whole(goal, currency),
        # Past the goal the bar is full; aria-valuetext still says what was raised.
        "value_now": _whole(min(max(raised, 0), goal), currency),
        "percent": f"{percent.quantize(Decimal('0.01'), ROUND_DOWN)}",
        "checkout": checkout,
        "support_href": _support_href(campaign, checkout, return_url),
    }


def _words(locale: Locale) -> dict[str, str]:
    """The goal bar's words in the locale's language, from the widget's own locale files (one
    source for both), English for a language they do not have."""
    strings = locales()
    english = strings["en"][SUPPORT_STRINGS]
    return {**english, **strings.get(locale.language, {}).get(SUPPORT_STRINGS, {})}


def _whole(amount: int, currency: str) -> int:
    """Whole major units, for the progress bar's ARIA values."""
    return int(to_major(amount, currency).to_integral_value(ROUND_DOWN))


def _support_href(campaign: Campaign, checkout: str | None, return_url: str | None) -> str | None:
    """Where the Support link goes without JavaScript: the donation page, or Townhall's support
    page (amount choice, then the checkout). The widget takes the click over with the API."""
    if checkout is None:
        return None
    if checkout == Checkout.DONATION_URL:
        return campaign.donation_url
    path = reverse("support:support-page", args=[campaign.site.slug, campaign.slug])
    query = f"?{urlencode({'return_url': return_url})}" if return_url else ""
    return f"{app_settings.public_url()}{path}{query}"
