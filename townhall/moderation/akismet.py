"""Akismet, asked only for sites that set their own key (``Site.akismet_key``).

What is sent is what Akismet's comment-check needs: the site's origin, the reader's address and
browser, the comment's text, name and email. Nothing is sent for sites without a key. An answer
other than "true" or "false", or none within ``TIMEOUT_SECONDS``, decides nothing: the comment
goes on through the rest of the pipeline, and the log says Akismet did not answer.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING

from townhall.moderation import app_settings

if TYPE_CHECKING:
    from townhall.moderation.pipeline import Submission

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 3.0


def is_spam(submission: Submission) -> bool:
    site = submission.site
    blog = site.allowed_origins[0] if site.allowed_origins else app_settings.public_url()
    form = {
        "api_key": site.akismet_key,
        "blog": blog,
        "user_ip": submission.client_ip,
        "user_agent": submission.user_agent,
        "permalink": submission.article_url,
        "comment_type": "comment",
        "comment_author": submission.author_name,
        "comment_author_email": submission.email,
        "comment_content": submission.text,
        "blog_charset": "UTF-8",
    }
    request = urllib.request.Request(  # noqa: S310 (an https URL from settings)
        app_settings.akismet_url(),
        data=urllib.parse.urlencode(form).encode(),
        headers={
            "User-Agent": "Townhall/0.1 | Akismet",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            answer = response.read(64).decode("ascii", "replace").strip()
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        logger.warning("Akismet did not answer for site %s: %s", site.slug, type(error).__name__)
        return False
    if answer not in ("true", "false"):
        logger.warning("Akismet answered %r for site %s (key not valid?)", answer[:20], site.slug)
        return False
    return answer == "true"
