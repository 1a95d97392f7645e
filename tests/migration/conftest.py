"""Migration fixtures: the real export files of ../shared/import-samples, a site to import into,
and generated Disqus files."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from townhall.migration import sources
from townhall.migration.engine import ImportReport, run_import
from townhall.sites.models import Site

# The project's shared folder sits beside the checkout (../shared); a clone elsewhere finds it
# at its place on the project's machines.
_PLACES = [
    Path(os.environ.get("TOWNHALL_IMPORT_SAMPLES", "")),
    Path(__file__).resolve().parents[3] / "shared" / "import-samples",
    Path("/work/shared/import-samples"),
]
SAMPLES = next((place for place in _PLACES if str(place) != "." and place.is_dir()), _PLACES[1])


@pytest.fixture
def samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.skip(f"The real export files are not here: {SAMPLES} (set TOWNHALL_IMPORT_SAMPLES)")
    return SAMPLES


@pytest.fixture
def import_file(db) -> Callable[..., ImportReport]:
    def run(site: Site, fmt: str, path: Path, **options) -> ImportReport:
        return run_import(site, sources.reader(fmt)(path), source=fmt, **options)

    return run


def disqus_xml(
    posts: int,
    *,
    threads: int = 10,
    link: str = "https://news.example/story-{}/",
    message: str = "<p>Comment number {} with <b>bold</b> text and a link "
    '<a href="https://example.org/{}">here</a>.</p>',
) -> bytes:
    """A Disqus export with ``posts`` posts over ``threads`` threads; every third post replies to
    the one before it."""
    start = datetime(2020, 1, 1, tzinfo=UTC)
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<disqus xmlns="http://disqus.com" '
        'xmlns:dsq="http://disqus.com/disqus-internals">\n'
    ]
    for number in range(threads):
        parts.append(
            f'<thread dsq:id="t{number}"><link>{link.format(number)}</link>'
            f"<title>Story {number}</title><createdAt>2019-12-31T00:00:00Z</createdAt>"
            "<isClosed>false</isClosed><isDeleted>false</isDeleted></thread>\n"
        )
    for number in range(posts):
        created = (start + timedelta(seconds=number)).strftime("%Y-%m-%dT%H:%M:%SZ")
        thread = number % threads
        parent = f'<parent dsq:id="p{number - threads}" />' if number % 3 == 2 else ""
        if number < threads:
            parent = ""
        parts.append(
            f'<post dsq:id="p{number}"><message><![CDATA[{message.format(number, number)}]]>'
            f"</message><createdAt>{created}</createdAt><isDeleted>false</isDeleted>"
            f"<isSpam>false</isSpam><author><email>reader{number % 500}@example.org</email>"
            f"<name>Reader {number % 500}</name><isAnonymous>false</isAnonymous>"
            f"<username>reader{number % 500}</username></author>"
            f'<thread dsq:id="t{thread}" />{parent}</post>\n'
        )
    parts.append("</disqus>\n")
    return "".join(parts).encode()
