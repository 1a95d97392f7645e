"""What the browser tests share besides fixtures: the server handle, page helpers, screenshots."""

from __future__ import annotations

import io
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops
from playwright.sync_api import Locator, Page, expect

ARTICLE_PATH = "/2016/07/ankara-could-let-russia-use-turkeys-incirlik-airbase-to-fight-isis/"
COUNT_HEADING = re.compile(r"^\d+ Comments?$")


class HttpError(Exception):
    def __init__(self, status: int, body: Any):
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


@dataclass
class Server:
    port: int
    var_dir: Path
    log_path: Path
    base_url: str = field(init=False)
    article_url: str = field(init=False)

    def __post_init__(self) -> None:
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.article_url = self.base_url + ARTICLE_PATH

    def url(self, path: str) -> str:
        return self.base_url + path

    def request(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        """A request as a publisher's server would make it (no Origin header); JSON in and out."""
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        url = self.url(path)  # always http://127.0.0.1:PORT/...
        request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                raw = response.read()
        except urllib.error.HTTPError as error:
            raw = error.read()
            error.close()
            raise HttpError(error.code, raw.decode(errors="replace")) from None
        return json.loads(raw) if raw else None

    def post_comment(self, body: str, **fields: Any) -> dict[str, Any]:
        """Posts to the demo article through the API; returns the comment and its edit token."""
        token = fields.pop("token", None)
        payload = {"site": "demo", "url": self.article_url, "body": body, **fields}
        return self.request("POST", "/api/v1/comments", payload, token=token)

    def thread(self, **params: Any) -> dict[str, Any]:
        query = urllib.parse.urlencode({"site": "demo", "url": self.article_url, **params})
        return self.request("GET", f"/api/v1/threads?{query}")

    def find_comment(self, predicate) -> dict[str, Any] | None:
        """A comment of the first page, or of the replies a page leaves out under its roots."""

        def walk(comments):
            for comment in comments:
                if predicate(comment):
                    return comment
                found = walk(comment["replies"])
                if found:
                    return found
            return None

        roots = self.thread(limit=200)["comments"]
        found = walk(roots)
        for root in roots:
            if found is None and root.get("more_replies"):
                rest = self.request("GET", f"/api/v1/comments/{root['id']}/replies?limit=200")
                found = walk(rest["comments"])
        return found

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


def open_article(page: Page, server: Server, path: str = "/") -> Locator:
    """Opens the demo article and waits for the widget; returns a locator for its host."""
    page.goto(server.url(path))
    return wait_for_widget(page)


def wait_for_widget(page: Page) -> Locator:
    widget = page.locator("#townhall")
    expect(widget.get_by_role("heading", level=2, name=COUNT_HEADING)).to_be_visible()
    has_shadow = page.evaluate(
        "() => { const host = document.getElementById('townhall');"
        " return !!(host && host.shadowRoot && host.shadowRoot.childElementCount); }"
    )
    assert has_shadow, "the widget did not render into an open shadow root on #townhall"
    return widget


def embed_page(
    page: Page,
    server: Server,
    *,
    origin: str | None = None,
    path: str = "/embedding-page.html",
    article_url: str | None = None,
    style: str = "",
) -> str:
    """Serves (through ``page.route``) a minimal publisher page that embeds the widget the way the
    embed script documents it, at ``origin`` (default: the server's own). Returns its URL."""
    url = (origin or server.base_url) + path
    html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A publisher page</title>
<style>body {{ font: 16px/1.5 Georgia, serif; margin: 2rem; }} {style}</style></head>
<body><h1>A publisher page</h1><p>An article.</p>
<div id="townhall"></div>
<script src="{server.base_url}/embed.js" data-site="demo"
  data-url="{article_url or server.article_url}" async></script>
</body></html>"""
    page.route(url, lambda route: route.fulfill(status=200, content_type="text/html", body=html))
    return url


def comment_in(widget: Locator, author: str) -> Locator:
    return widget.get_by_role("article", name=f"Comment by {author}", exact=True)


def main_form(widget: Locator) -> Locator:
    return widget.get_by_role("form", name="Write a comment")


def comment_box(widget: Locator) -> Locator:
    return main_form(widget).get_by_role("textbox", name="Comment", exact=True)


def count_heading(widget: Locator, count: int) -> Locator:
    label = f"{count} Comment" if count == 1 else f"{count} Comments"
    return widget.get_by_role("heading", level=2, name=label, exact=True)


def has_deep_focus(locator: Locator) -> bool:
    """Whether the element has the focus, looking through shadow roots."""
    return locator.evaluate(
        """el => {
            let active = document.activeElement;
            while (active && active.shadowRoot && active.shadowRoot.activeElement)
                active = active.shadowRoot.activeElement;
            return active === el;
        }"""
    )


def deep_focus_description(page: Page) -> str:
    return page.evaluate(
        """() => {
            let active = document.activeElement;
            while (active && active.shadowRoot && active.shadowRoot.activeElement)
                active = active.shadowRoot.activeElement;
            if (!active) return "nothing";
            const name = active.getAttribute("aria-label")
                || active.textContent.trim().slice(0, 40);
            return `<${active.tagName.toLowerCase()}> ${name}`;
        }"""
    )


def top_level_texts(widget: Locator) -> list[str]:
    """The text of each top-level comment in the order shown (replies excluded)."""
    return widget.evaluate(
        """host => [...host.shadowRoot.querySelectorAll("article")]
            .filter(a => !a.parentElement.closest("article"))
            .map(a => a.innerText)"""
    )


# ---- screenshots ---------------------------------------------------------------------------


@dataclass
class ImageDifference:
    size_matches: bool
    fraction: float  # of pixels differing by more than the per-channel threshold


def _pair(expected: Path, actual: bytes) -> tuple[Image.Image, Image.Image] | None:
    """Both images in RGB, cropped to their common size when they differ by a pixel at most (an
    element at a fractional position rounds either way); None when the sizes really differ."""
    with Image.open(expected) as base_file, Image.open(io.BytesIO(actual)) as new_file:
        base = base_file.convert("RGB")
        new = new_file.convert("RGB")
    if abs(base.width - new.width) > 1 or abs(base.height - new.height) > 1:
        return None
    box = (0, 0, min(base.width, new.width), min(base.height, new.height))
    return base.crop(box), new.crop(box)


def _differing_mask(base: Image.Image, new: Image.Image, channel_threshold: int) -> Image.Image:
    """White where any colour channel moved by more than the threshold (anti-aliasing noise
    stays under it)."""
    channels = [
        band.point(lambda v: 255 if v > channel_threshold else 0)
        for band in ImageChops.difference(base, new).split()
    ]
    return ImageChops.lighter(ImageChops.lighter(channels[0], channels[1]), channels[2])


def compare_images(expected: Path, actual: bytes, channel_threshold: int = 24) -> ImageDifference:
    pair = _pair(expected, actual)
    if pair is None:
        return ImageDifference(size_matches=False, fraction=1.0)
    base, new = pair
    differing = _differing_mask(base, new, channel_threshold).histogram()[255]
    return ImageDifference(size_matches=True, fraction=differing / (base.width * base.height))


def diff_image(expected: Path, actual: bytes, channel_threshold: int = 24) -> Image.Image:
    """The new screenshot with differing pixels painted red, for a person to look at."""
    pair = _pair(expected, actual)
    if pair is None:
        return Image.open(io.BytesIO(actual)).convert("RGB")
    base, new = pair
    red = Image.new("RGB", new.size, (255, 0, 0))
    return Image.composite(red, new, _differing_mask(base, new, channel_threshold))
