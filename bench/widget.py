"""Benchmark: the embed widget, Townhall vs Isso 0.14: what a page downloads, how fast it shows.

Size: everything an article page downloads to get the widget (not the comments
themselves), compressed with GNU `gzip -9`. For Townhall that is one file,
the assembled `/embed.js` (script, stylesheet and locales in one), taken from
the real HTTP response of a running `townhall serve` asked with
`Accept-Encoding: identity`; what the server itself sends to a browser that
accepts gzip is recorded next to it. For Isso it is the two files its embed
loads, `js/embed.min.js` and the `css/isso.css` the script links in, read from
the installed package (bench/.venvs/isso) and checked to be byte for byte what
the running Isso serves.

Render time: a Chromium page on the article's origin (its HTML is fulfilled
by Playwright, nothing listens there) embeds the widget of a running, seeded
server (the 200-comment corpus of bench/corpus.py, through the same peers as
the thread read benchmark). Each page load gets a new browser context, so no
HTTP cache and no connection is carried over from the previous one. Townhall:
the time from the script's start to all 200 comments in the DOM, as the
widget reports it in its `townhall:loaded` event (`detail.ms`), checked
against 200 `article` elements in its shadow root. Isso: a MutationObserver
waits for 200 comments under `#isso-root`. To compare the two on the same
footing, both are also timed from the end of their script's download
(Resource Timing `responseEnd`) to the last comment in the DOM.

Run through `python bench/run.py --benchmark widget`; it needs Chromium at
/usr/bin/chromium (`sudo make browser`) and Playwright (the project's `test`
extra, which `make bench` installs).
"""

from __future__ import annotations

import argparse
import gzip
import importlib.metadata
import json
import shutil
import statistics
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import corpus
import isso_peer
import report
import townhall_peer
from support import (
    ARTICLE_ORIGIN,
    ARTICLE_PATH,
    ARTICLE_TITLE,
    ARTICLE_URL,
    BUSY_WARNING,
    BenchError,
    RunningPeer,
    cpu_busy_share,
)

BENCH_KEY = "widget"
SIZE_TARGET_BYTES = 15_000  # Townhall's widget, gzip -9, all files: at most 15 kB
RENDER_TARGET_MS = 150.0  # Townhall, script start -> 200 comments in the DOM (median run)
KB = 1000  # sizes are reported in kB of 1000 bytes, as the issue quotes Isso's
ISSO_QUOTED_KB = (20.3, 2.0)  # Isso's embed.min.js + isso.css as the issue quotes them
PAGE_SIZE = 50  # data-page-size: every root of the corpus on the first page, so all 200
REPLIES = 1000  # data-replies: every reply under them too (Isso: max-comments-nested = inf)
WARMUP_RUNS = 1  # unmeasured page loads per widget before the measured ones
PRIME_REQUESTS = 16  # reads sent to each server before the browser, spread over its workers
PRIME_PARALLEL = 4  # ... this many at a time
RUN_TIMEOUT_MS = 20_000  # per page load; a widget that never finishes fails the run
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ISSO_FILES = ("js/embed.min.js", "css/isso.css")  # what Isso's embed makes a page download

# The probes run in the page before the widget's script. Both resolve
# window.benchResult once all comments are in the DOM; BENCH (set just before)
# holds the expected comment count and the timeout.
REQUESTS = """
const requests = () => performance.getEntriesByType("resource").map(
  (entry) => [entry.name, entry.startTime, entry.responseEnd]);
"""
TOWNHALL_PROBE = """
window.benchResult = new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error("no townhall:loaded event")), BENCH.timeout);
  const host = document.getElementById("townhall");
  host.addEventListener("townhall:loaded", (event) => {
    const renderedAt = performance.now();
    clearTimeout(timer);
    const entry = performance.getEntriesByName(document.getElementById("embed").src)[0];
    resolve({
      script_ms: event.detail.ms,
      downloaded_at: entry ? entry.responseEnd : null,
      rendered_at: renderedAt,
      requests: requests(),
      comments: host.shadowRoot.querySelectorAll("article").length,
      thread_count: event.detail.thread.comment_count,
    });
  }, { once: true });
});
"""
ISSO_PROBE = """
window.benchResult = new Promise((resolve, reject) => {
  const startedAt = performance.now();
  const thread = document.getElementById("isso-thread");
  const count = () => thread.querySelectorAll("#isso-root .isso-comment").length;
  const timer = setTimeout(() => reject(new Error(count() + " comments shown")), BENCH.timeout);
  const observer = new MutationObserver(() => {
    if (count() < BENCH.expected) return;
    const renderedAt = performance.now();
    observer.disconnect();
    clearTimeout(timer);
    const entry = performance.getEntriesByName(document.getElementById("embed").src)[0];
    resolve({
      started_at: startedAt,
      downloaded_at: entry ? entry.responseEnd : null,
      rendered_at: renderedAt,
      requests: requests(),
      comments: count(),
    });
  });
  observer.observe(thread, { childList: true, subtree: true });
});
"""
PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{title}</title></head>
<body>
<h1>{title}</h1>
<p>The article under discussion.</p>
{body}
</body>
</html>
"""


def townhall_page(base: str) -> str:
    """The article page embedding Townhall's widget, as its snippet does, with all roots and
    all their replies shown (by default a page holds 3 replies per root)."""
    script = (
        f'<script id="embed" src="{base}/embed.js" data-site="{townhall_peer.SITE}" '
        f'data-url="{ARTICLE_URL}" data-page-size="{PAGE_SIZE}" data-replies="{REPLIES}" '
        "async></script>"
    )
    return _page('<div id="townhall"></div>', TOWNHALL_PROBE, script)


def isso_page(base: str) -> str:
    """The article page embedding Isso's widget, as its docs do, with no reply hidden.

    Isso's client asks for at most 5 replies per comment unless told otherwise
    (`max-comments-nested`); "inf" makes it fetch and show all 200 at once,
    like Townhall's page.
    """
    script = (
        f'<script id="embed" data-isso="{base}/" data-isso-max-comments-nested="inf" '
        f'src="{base}/js/embed.min.js"></script>'
    )
    thread = f'<section id="isso-thread" data-isso-id="{ARTICLE_PATH}"></section>'
    return _page(thread, ISSO_PROBE, script)


def _page(container: str, probe: str, script: str) -> str:
    """An article page: the widget's container, the timing probe, then the widget's script."""
    settings = json.dumps({"expected": len(corpus.comments()), "timeout": RUN_TIMEOUT_MS})
    body = f"{container}\n<script>const BENCH = {settings};{REQUESTS}{probe}</script>\n{script}"
    return PAGE.format(title=ARTICLE_TITLE, body=body)


# ---- size ------------------------------------------------------------------------------------


def gzip9(data: bytes) -> int:
    """Bytes of `data` compressed by GNU `gzip -9 -n` (no file name or time in the header)."""
    return len(_gzip(["-9", "-n", "-c"], data))


def gzip9_named(path: Path) -> int:
    """Bytes of `gzip -9 FILE`, which stores the file name in the header (as a release note
    measuring the file would)."""
    return len(_gzip(["-9", "-c", str(path)], None))


def _gzip(options: list[str], data: bytes | None) -> bytes:
    """Run GNU gzip with `options` (on `data` as stdin, if given); check it round-trips."""
    binary = shutil.which("gzip")
    if binary is None:
        raise BenchError("GNU gzip is not on PATH; the widget sizes are measured with `gzip -9`")
    result = subprocess.run([binary, *options], input=data, capture_output=True, check=False)
    if result.returncode != 0:
        raise BenchError(
            f"gzip {' '.join(options)} failed: {result.stderr.decode(errors='replace')}"
        )
    if data is not None and gzip.decompress(result.stdout) != data:
        raise BenchError("gzip output does not decompress to its input")
    return result.stdout


def http_get(url: str, accept_encoding: str) -> tuple[dict[str, str], bytes]:
    """GET `url` with one Accept-Encoding; (lower-cased headers, body as sent on the wire)."""
    request = urllib.request.Request(url, headers={"Accept-Encoding": accept_encoding})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            headers = {name.lower(): value for name, value in response.headers.items()}
            return headers, response.read()
    except (urllib.error.URLError, OSError) as error:  # HTTPError included: 200 expected
        raise BenchError(
            f"GET {url} (Accept-Encoding: {accept_encoding}) failed: {error}"
        ) from error


def served(url: str, expected: bytes) -> dict[str, Any]:
    """What the server sends for `url` to a browser accepting gzip, checked against `expected`."""
    headers, wire = http_get(url, "gzip, deflate, br")
    encoding = headers.get("content-encoding", "identity")
    content = gzip.decompress(wire) if encoding == "gzip" else wire
    if encoding not in ("identity", "gzip") or content != expected:
        raise BenchError(f"{url} sent with Accept-Encoding gzip is not the same file ({encoding})")
    return {"served_bytes": len(wire), "served_encoding": encoding}


def townhall_size(peer: RunningPeer) -> list[dict[str, Any]]:
    """The assembled /embed.js from the running server: raw, gzip -9, and as served gzipped."""
    url = f"{peer.base_url}/embed.js"
    headers, body = http_get(url, "identity")
    if headers.get("content-encoding", "identity") != "identity":
        raise BenchError(f"{url} answered Accept-Encoding: identity with {headers}")
    if b"/*@CSS@*/" in body or b"/*@LOCALES@*/" in body:
        raise BenchError(f"{url} is not assembled: its CSS or locale marker is still in it")
    return [_file_row("/embed.js", url, headers, body)]


def _file_row(name: str, url: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    return {
        "file": name,
        "bytes": len(body),
        "gzip9_bytes": gzip9(body),
        "content_type": headers.get("content-type", ""),
        **served(url, body),
    }


# The files the widget loads on some pages only (the benchmark page has none of them): the path,
# names the file must define, what it is, which pages load it and when.
LAZY_FILES = (
    (
        "/embed-anchoring.js",
        (b"TownhallInline", b"TownhallAnchoring"),
        "the Inline Feedbacks module",
        "pages with an article only",
        "after the thread",
    ),
    (
        "/embed-support.js",
        (b"TownhallSupport",),
        "the reader-support goal bar",
        "pages with a campaign only",
        "beside the thread",
    ),
    (
        "/embed-account.js",
        (b"TownhallAccount",),
        "the sign-in form and account menu",
        "on opening Sign in, for signed-in readers, sites with guest rules",
        "beside the thread",
    ),
)


def townhall_lazy_size(peer: RunningPeer) -> list[dict[str, Any]]:
    """The modules the widget loads on some pages only: Inline Feedbacks (re-anchoring and its
    UI) after the thread on pages with an article element, the reader-support goal bar and
    Support button on pages with a campaign element (and after a post, for the "Support"
    prompt), the sign-in form and account menu when a reader opens "Sign in", comes back signed
    in or brings an SSO token or magic link, and on sites that ask guests for an email or allow
    none."""
    rows = []
    for path, names, what, pages, when in LAZY_FILES:
        url = f"{peer.base_url}{path}"
        headers, body = http_get(url, "identity")
        if not all(name in body for name in names):
            raise BenchError(f"{url} is not {what}")
        rows.append(
            {**_file_row(path, url, headers, body), "what": what, "pages": pages, "when": when}
        )
    return rows


def isso_package_dir() -> Path:
    """The installed `isso` package in the Isso venv (without importing it)."""
    script = "import importlib.util as u; print(u.find_spec('isso').submodule_search_locations[0])"
    python = str(isso_peer.venv_python())
    result = subprocess.run([python, "-c", script], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BenchError(f"cannot locate the isso package with {python}: {result.stderr}")
    return Path(result.stdout.strip())


def isso_size(peer: RunningPeer) -> list[dict[str, Any]]:
    """Isso's shipped embed files, gzip -9 each, checked against what the server serves."""
    package = isso_package_dir()
    files = []
    for name in ISSO_FILES:
        path = package / name
        data = path.read_bytes()
        headers, body = http_get(f"{peer.base_url}/{name}", "identity")
        if body != data:
            raise BenchError(f"Isso serves a different /{name} than {path}")
        files.append(
            {
                "file": name,
                "bytes": len(data),
                "gzip9_bytes": gzip9(data),
                "gzip9_named_bytes": gzip9_named(path),
                "content_type": headers.get("content-type", ""),
                **served(f"{peer.base_url}/{name}", data),
            }
        )
    return files


# ---- render time -----------------------------------------------------------------------------


def prime(urls: list[str], headers: dict[str, str]) -> None:
    """Send a few reads in parallel, so every worker has answered (and cached) them once."""

    def get(url: str) -> None:
        request = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                response.read()
        except (urllib.error.URLError, OSError) as error:
            raise BenchError(f"priming GET {url} failed: {error}") from error

    with ThreadPoolExecutor(max_workers=PRIME_PARALLEL) as pool:
        list(pool.map(get, [url for _ in range(PRIME_REQUESTS // len(urls)) for url in urls]))


def page_loads(browser: Any, html: str, runs: int, label: str) -> tuple[list[dict[str, Any]], Any]:
    """Load the article page WARMUP_RUNS + `runs` times, each in a new browser context.

    Returns the measured samples (warm-up excluded) and the URLs the first
    page downloaded (to show what a page fetches for the widget).
    """
    from playwright.sync_api import Error as PlaywrightError

    samples: list[dict[str, Any]] = []
    resources: list[str] = []
    for index in range(WARMUP_RUNS + runs):
        # The page's HTML comes from Playwright, not from an address, so Chromium's Local
        # Network Access rules treat it as a public page that may not reach 127.0.0.1 unless
        # granted; on a real site the comment server is not on the reader's loopback.
        context = browser.new_context(permissions=["local-network-access"])
        errors: list[str] = []
        try:
            page = context.new_page()
            page.on("pageerror", lambda error, errors=errors: errors.append(str(error)))
            page.route(
                ARTICLE_URL,
                lambda route: route.fulfill(
                    status=200, content_type="text/html; charset=utf-8", body=html
                ),
            )
            page.goto(ARTICLE_URL, timeout=RUN_TIMEOUT_MS)
            sample = page.evaluate("window.benchResult")
            if index == 0:
                resources = page.evaluate(
                    "performance.getEntriesByType('resource').map((entry) => entry.name)"
                )
        except PlaywrightError as error:
            detail = f"; page errors: {errors}" if errors else ""
            raise BenchError(f"{label} page load {index + 1} failed: {error}{detail}") from error
        finally:
            context.close()
        expected = len(corpus.comments())
        if sample["comments"] != expected or sample.get("thread_count", expected) != expected:
            raise BenchError(f"{label} showed {sample} instead of {expected} comments")
        if index >= WARMUP_RUNS:
            samples.append(sample)
    return samples, resources


def stats(values: list[float]) -> dict[str, Any]:
    """Median, p90 (linear interpolation), min and max of a list of times, plus the list."""
    return {
        "median": statistics.median(values),
        "p90": statistics.quantiles(values, n=10, method="inclusive")[8],
        "min": min(values),
        "max": max(values),
        "runs": [round(v, 2) for v in values],
    }


PHASES = {
    "before": "downloaded \u2192 request sent",
    "request": "thread request",
    "after": "response \u2192 all in the DOM",
}


def phases(samples: list[dict[str, Any]], base: str, thread_path: str) -> dict[str, Any]:
    """Split each load's time after the script's download around the thread request.

    From Resource Timing of the one request for the thread (`thread_path` on
    the server at `base`): until it is sent, the request itself, and from its
    response to all comments in the DOM (parsing the JSON, building the DOM).
    """
    split: dict[str, list[float]] = {key: [] for key in PHASES}
    for sample in samples:
        thread = [
            (start, end)
            for url, start, end in sample["requests"]
            if paths([url], base) == [thread_path + "?..."]
        ]
        if len(thread) != 1:
            raise BenchError(f"expected one thread request to {base}{thread_path}, got {thread}")
        start, end = thread[0]
        split["before"].append(start - sample["downloaded_at"])
        split["request"].append(end - start)
        split["after"].append(sample["rendered_at"] - end)
    return {key: stats(values) for key, values in split.items()}


def busy_before(peer: RunningPeer) -> float:
    """The machine's busy share with the server idle; warns when other work would skew it."""
    busy = cpu_busy_share(exclude_pgid=peer.proc.pid)
    if busy > BUSY_WARNING:
        print(f"  WARNING: the machine is {busy:.0%} busy with other work; results will be noisy")
    return round(busy, 3)


def paths(urls: list[str], base: str) -> list[str]:
    """The page's downloads from the server at `base`, as paths (query strings shortened).

    Downloads from elsewhere (the page itself, the browser's favicon request
    for it) are not the widget's.
    """
    shown = []
    for url in urls:
        parts = urllib.parse.urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" == base:
            shown.append(parts.path + ("?..." if parts.query else ""))
    return shown


def check_downloads(
    label: str, downloads: list[str], files: list[dict[str, Any]], data: tuple[str, ...]
) -> None:
    """Fail unless the page downloaded the counted files and, besides them, only comment data.

    `data` are the paths of the server's data requests (the thread, Isso's
    config); anything else (a font, an image, a second script) would be part of
    the widget's weight and is missing from the count.
    """
    counted = {"/" + f["file"].lstrip("/") for f in files}
    others = [p for p in downloads if p.split("?")[0] not in data]
    if sorted(set(others)) != sorted(counted) or len(others) != len(counted):
        raise BenchError(
            f"{label}'s page downloaded {downloads}; the size counts {sorted(counted)}"
        )


def measure_townhall(browser: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Start and seed Townhall, measure its widget's size, then its render time in Chromium."""
    print("Townhall: starting, seeding ...", flush=True)
    with townhall_peer.running_townhall() as peer:
        files = townhall_size(peer)
        lazy = townhall_lazy_size(peer)
        print(f"  /embed.js: {files[0]['bytes']:,} bytes, {files[0]['gzip9_bytes']:,} gzip -9")
        query = {
            "site": townhall_peer.SITE,
            "url": ARTICLE_URL,
            "sort": "newest",  # the widget's default order
            "limit": PAGE_SIZE,
            "replies": REPLIES,
        }
        read = f"{peer.base_url}/api/v1/threads?{urllib.parse.urlencode(query)}"
        prime([read], {"Origin": ARTICLE_ORIGIN})
        busy = busy_before(peer)
        print(f"  {WARMUP_RUNS} + {args.runs} page loads in Chromium ...", flush=True)
        samples, resources = page_loads(
            browser, townhall_page(peer.base_url), args.runs, "Townhall"
        )
        check_downloads("Townhall", paths(resources, peer.base_url), files, ("/api/v1/threads",))
        peer.check()
        return {
            "name": peer.name,
            "version": peer.version,
            "serving": peer.serving,
            "files": files,
            "lazy_files": lazy,
            "page_downloads": paths(resources, peer.base_url),
            "background_cpu_busy": busy,
            "script_start": stats([s["script_ms"] for s in samples]),
            "script_downloaded": stats([s["rendered_at"] - s["downloaded_at"] for s in samples]),
            "phases": phases(samples, peer.base_url, "/api/v1/threads"),
            "samples": samples,
        }


def measure_isso(browser: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Start and seed Isso, measure its embed's size, then its render time in Chromium."""
    print("Isso: installing/starting, seeding ...", flush=True)
    with isso_peer.running_isso() as peer:
        files = isso_size(peer)
        sizes = ", ".join(f"{f['file']} {f['gzip9_bytes']:,}" for f in files)
        print(f"  gzip -9: {sizes} bytes")
        prime([f"{peer.base_url}/config", peer.read_url], {"Origin": ARTICLE_ORIGIN})
        busy = busy_before(peer)
        print(f"  {WARMUP_RUNS} + {args.runs} page loads in Chromium ...", flush=True)
        samples, resources = page_loads(browser, isso_page(peer.base_url), args.runs, "Isso")
        check_downloads("Isso", paths(resources, peer.base_url), files, ("/", "/config"))
        peer.check()
        return {
            "name": peer.name,
            "version": peer.version,
            "serving": peer.serving,
            "files": files,
            "page_downloads": paths(resources, peer.base_url),
            "background_cpu_busy": busy,
            "script_tag": stats([s["rendered_at"] - s["started_at"] for s in samples]),
            "script_downloaded": stats([s["rendered_at"] - s["downloaded_at"] for s in samples]),
            "phases": phases(samples, peer.base_url, "/"),
            "samples": samples,
        }


@contextmanager
def chromium(args: list[str] = CHROMIUM_ARGS) -> Iterator[tuple[Any, dict[str, str]]]:
    """Debian's Chromium driven by Playwright, started with `args`; yields (browser, versions)."""
    if not CHROMIUM.is_file():
        raise BenchError(f"Chromium is missing at {CHROMIUM}: run `sudo make browser`")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        raise BenchError(
            "Playwright is not installed in this Python: install the test extra, e.g. "
            "`.venv/bin/python -m pip install -e '.[test]'` (`make bench` does)"
        ) from error
    from playwright.sync_api import Error as PlaywrightError

    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
        except PlaywrightError as error:
            raise BenchError(f"Chromium ({CHROMIUM}) did not start: {error}") from error
        try:
            versions = {
                "chromium": browser.version,
                "playwright": importlib.metadata.version("playwright"),
            }
            yield browser, versions
        finally:
            browser.close()


Measure = Callable[[Any, argparse.Namespace], dict[str, Any]]
MEASURES: list[Measure] = [measure_townhall, measure_isso]


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    """Both widgets in turn, in one browser; each server is stopped before the next starts."""
    started = time.monotonic()
    context: AbstractContextManager[tuple[Any, dict[str, str]]] = chromium()
    with context as (browser, versions):
        results = [measure(browser, args) for measure in MEASURES]
    return {
        "browser": versions,
        "runs": args.runs,
        "warmup_runs": WARMUP_RUNS,
        "seconds": round(time.monotonic() - started, 1),
        "results": results,
    }


# ---- report ----------------------------------------------------------------------------------


def total(result: dict[str, Any], key: str) -> int:
    """One size column summed over a widget's files."""
    return sum(int(f[key]) for f in result["files"])


def kb(size: float) -> str:
    """Bytes as kB (1000 bytes) with one decimal."""
    return f"{size / KB:.1f}"


def size_rows(results: list[dict[str, Any]]) -> list[list[str]]:
    """Per widget: one row per file, a total row when it has several, then Townhall / Isso."""
    rows = []
    for r in results:
        label = f"{r['name']} {r['version']}"
        for f in r["files"]:
            sent = f"{f['served_bytes']:,} ({f['served_encoding']})"
            rows.append([label, f"`{f['file']}`", f"{f['bytes']:,}", f"{f['gzip9_bytes']:,}", sent])
        if len(r["files"]) > 1:
            served_total = f"{total(r, 'served_bytes'):,}"
            rows.append(
                [
                    label,
                    "**total**",
                    f"{total(r, 'bytes'):,}",
                    f"{total(r, 'gzip9_bytes'):,}",
                    served_total,
                ]
            )
    by_name = {r["name"]: r for r in results}
    if {"Townhall", "Isso"} <= by_name.keys():
        town, isso = by_name["Townhall"], by_name["Isso"]
        ratios = [
            report.ratio(total(town, k) / total(isso, k))
            for k in ("bytes", "gzip9_bytes", "served_bytes")
        ]
        rows.append(["Townhall / Isso", "all files", *ratios])
    for r in results:
        for f in r.get("lazy_files", []):
            sent = f"{f['served_bytes']:,} ({f['served_encoding']})"
            rows.append(
                [
                    f"{r['name']} {r['version']}, {f.get('pages', 'pages with an article only')}",
                    f"`{f['file']}` ({f.get('when', 'after the thread')})",
                    f"{f['bytes']:,}",
                    f"{f['gzip9_bytes']:,}",
                    sent,
                ]
            )
    return rows


SIZE_HEADERS = ["Widget", "File", "Bytes", "gzip -9 (bytes)", "Sent to a gzip-capable browser"]
RENDER_HEADERS = ["Widget", "Timed from", "Median (ms)", "p90 (ms)", "Min (ms)", "Max (ms)"]
FROM = {
    "script_start": "script start (`townhall:loaded` `detail.ms`)",
    "script_downloaded": "script downloaded (`responseEnd`)",
    "script_tag": "inline mark before the script tag",
}


def render_rows(results: list[dict[str, Any]], markdown: bool = True) -> list[list[str]]:
    """Per widget and starting point: the distribution of times to all comments in the DOM."""
    rows = []
    for r in results:
        for key in ("script_start", "script_downloaded", "script_tag"):
            if key not in r:
                continue
            s = r[key]
            when = FROM[key] if markdown else FROM[key].replace("`", "")
            columns = [report.number(s[k]) for k in ("median", "p90", "min", "max")]
            rows.append([f"{r['name']} {r['version']}", when, *columns])
    by_name = {r["name"]: r for r in results}
    if {"Townhall", "Isso"} <= by_name.keys():
        town, isso = by_name["Townhall"]["script_downloaded"], by_name["Isso"]["script_downloaded"]
        ratios = [report.ratio(town[k] / isso[k]) for k in ("median", "p90", "min", "max")]
        when = FROM["script_downloaded"] if markdown else FROM["script_downloaded"].replace("`", "")
        rows.append(["Townhall / Isso", when, *ratios])
    return rows


PHASE_HEADERS = ["Widget", *(f"{text[0].upper()}{text[1:]} (ms)" for text in PHASES.values())]


def phase_rows(results: list[dict[str, Any]]) -> list[list[str]]:
    """Per widget: the median of each part of its time after the script's download."""
    return [
        [f"{r['name']} {r['version']}", *(report.number(r["phases"][k]["median"]) for k in PHASES)]
        for r in results
    ]


def townhall(measured: dict[str, Any]) -> dict[str, Any]:
    """Townhall's result of a run."""
    return next(r for r in measured["results"] if r["name"] == "Townhall")


def size_verdict(measured: dict[str, Any], markdown: bool = True) -> str:
    """Whether Townhall's widget is within SIZE_TARGET_BYTES, with its number."""
    size = total(townhall(measured), "gzip9_bytes")
    met = "met" if size <= SIZE_TARGET_BYTES else "not met"
    bold = "**" if markdown else ""
    lazy = townhall(measured).get("lazy_files", [])
    later = "".join(
        f"; {f.get('pages', 'pages with an article only').removesuffix(' only')} also load "
        f"{f.get('what', 'the Inline Feedbacks module')} {f.get('when', 'after the thread')}, "
        f"{int(f['gzip9_bytes']):,} bytes = {kb(int(f['gzip9_bytes']))} kB more"
        for f in lazy
    )
    if len(lazy) > 1:
        every = size + sum(int(f["gzip9_bytes"]) for f in lazy)
        later += f" ({every:,} bytes = {kb(every)} kB with all of them)"
    elif lazy:
        later += f" ({kb(size + int(lazy[0]['gzip9_bytes']))} kB in all)"
    return (
        f"Townhall's widget at most {SIZE_TARGET_BYTES / KB:.0f} kB gzip -9, all files a page "
        f"needs to show the discussion: {bold}{met}{bold} ({size:,} bytes = {kb(size)} kB){later}"
    )


def render_verdict(measured: dict[str, Any], markdown: bool = True) -> str:
    """Whether Townhall shows 200 comments within RENDER_TARGET_MS (median run), with p90."""
    s = townhall(measured)["script_start"]
    met = "met" if s["median"] <= RENDER_TARGET_MS else "not met"
    p90 = "within it too" if s["p90"] <= RENDER_TARGET_MS else "over it"
    bold = "**" if markdown else ""
    count = len(corpus.comments())
    return (
        f"Townhall shows {count} comments at most {RENDER_TARGET_MS:.0f} ms after its script "
        f"starts (median run): {bold}{met}{bold} (median {report.number(s['median'])} ms; "
        f"p90 {report.number(s['p90'])} ms, {p90})"
    )


def print_results(measured: dict[str, Any]) -> None:
    """Both tables and both verdicts, as plain text on stdout."""
    results = measured["results"]
    print()
    plain = [
        [cell.replace("`", "").replace("**", "") for cell in row] for row in size_rows(results)
    ]
    print(report.text_table(SIZE_HEADERS, plain, text_columns=2))
    print()
    print(report.text_table(RENDER_HEADERS, render_rows(results, markdown=False), text_columns=2))
    print()
    print(report.text_table(PHASE_HEADERS, phase_rows(results)))
    print(f"\nTarget {size_verdict(measured, markdown=False)}")
    print(f"Target {render_verdict(measured, markdown=False)}")


def quoted_note(isso: dict[str, Any]) -> str:
    """Where the issue's figures for Isso come from, from this run's own numbers."""
    named = " + ".join(f"{f['gzip9_named_bytes']:,}" for f in isso["files"])
    content = " + ".join(f"{f['gzip9_bytes']:,}" for f in isso["files"])
    quoted = " + ".join(f"{q:.1f}" for q in ISSO_QUOTED_KB)
    return (
        f"The issue quotes Isso's embed as {quoted} kB. `gzip -9 embed.min.js` and `gzip -9 "
        f"isso.css` give {named} bytes here, the same figures rounded: they include the file "
        f"name gzip stores in its header. The table counts the content only ({content} bytes), "
        "like Townhall's, compressed from standard input with `gzip -9 -n`."
    )


def size_method(measured: dict[str, Any]) -> str:
    """The 'Method' bullets of the size part."""
    town = townhall(measured)
    lines = [
        "- **What counts**: every file a page downloads to get the widget, but not the "
        "comment data. The downloads listed here are those Chromium recorded (Resource Timing) "
        "on the article page of the render-time runs below; each run fails if the page "
        "downloads anything from the server besides the counted files and its data requests.",
        f"- **Townhall**: the page downloads {_listing(town)}. `/embed.js` is the widget's "
        "script with its stylesheet and its locales inlined by the server "
        "(`townhall/widget/assets.py`); measured from the HTTP response of the running `townhall "
        "serve`, asked with `Accept-Encoding: identity`. On pages with an `<article>` element "
        "(not this benchmark's), the widget also loads `/embed-anchoring.js`, the Inline "
        "Feedbacks module (re-anchoring and its UI), after the thread is shown; on pages with "
        "a reader-support campaign element (`data-townhall-campaign`), `/embed-support.js`, the "
        'goal bar and Support button (also after a reader\'s post, for the "Support" prompt); '
        '`/embed-account.js`, the sign-in form and account menu, when a reader opens "Sign in", '
        "is signed in or brings a sign-in token, and on sites with rules for guests. "
        "Isso has no such features, so they are listed apart and not in the comparison.",
    ]
    for r in measured["results"]:
        if r["name"] == "Isso":
            lines.append(
                f"- **Isso**: the page downloads {_listing(r)}. `embed.min.js` and the "
                "`isso.css` it links in are read from the installed package "
                "(`bench/.venvs/isso/.../site-packages/isso/`) and checked to be byte for byte "
                "what the running Isso serves."
            )
            lines.append(f"- {quoted_note(r)}")
    lines += [
        "- **gzip -9** is GNU gzip at level 9 on each file's content (`gzip -9 -n`, no file name "
        "in the header); kB are 1000 bytes.",
        "- **Sent to a gzip-capable browser**: the body each server sends for the file to a "
        "request with `Accept-Encoding: gzip, deflate, br`, as served in this benchmark (Isso "
        "without a reverse proxy in front, which would usually compress it).",
    ]
    return "\n".join(lines)


def _listing(result: dict[str, Any]) -> str:
    """The page's downloads for one widget, as inline code."""
    return ", ".join(f"`{path}`" for path in result["page_downloads"])


def render_method(env: dict[str, Any], measured: dict[str, Any]) -> str:
    """The 'Method' bullets of the render-time part."""
    b, count = measured["browser"], len(corpus.comments())
    town = townhall(measured)
    busy = ", ".join(f"{r['name']} {r['background_cpu_busy']:.0%}" for r in measured["results"])
    lines = [
        f"- **Browser**: Chromium {b['chromium']} (Debian's, `{CHROMIUM}`), headless, driven by "
        f"Playwright {b['playwright']}, with `{' '.join(CHROMIUM_ARGS)}`.",
        f"- **Page**: `{ARTICLE_URL}` (an allowed origin of the `bench` site and Isso's "
        "configured host), its HTML fulfilled by Playwright; it holds the widget's container, "
        "a small timing probe, and the widget's script tag as each project documents it. As "
        "the HTML comes from no address, Chromium's Local Network Access rules treat the page "
        "as public and the context is granted `local-network-access` to reach the servers on "
        "127.0.0.1.",
        f"- **Data**: the thread of the thread read benchmark (`bench/corpus.py`, seed "
        f"{env['corpus']['seed']}, {count} comments, {env['corpus']['roots']} roots), seeded "
        "through each server's API; each server is started as in that benchmark "
        f"({town['serving']} for Townhall) and gets {PRIME_REQUESTS} reads of the widget's "
        f"requests, {PRIME_PARALLEL} at a time, before the browser, so that its workers have "
        "answered them (and Townhall's have cached the thread page).",
        f'- **Townhall**: `<script src=".../embed.js" data-site="bench" '
        f'data-url="{ARTICLE_URL}" data-page-size="{PAGE_SIZE}" data-replies="{REPLIES}" '
        f"async>`: one request brings all {env['corpus']['roots']} roots with all their "
        "replies (as Isso's page, which shows every reply). Timed by the widget "
        "itself: `detail.ms` of its `townhall:loaded` event is `performance.now()` when the "
        "thread is in the DOM minus `performance.now()` when the script starts executing. It "
        "includes the script's execution from its first statement, the fetch of the thread "
        "page (connection, request, JSON parsing) and building the DOM of all comments in the "
        "widget's shadow root; it does not include downloading and compiling the script, nor "
        f"layout and paint. Each load is checked to hold {count} `article` elements in the "
        "shadow root.",
    ]
    if any(r["name"] == "Isso" for r in measured["results"]):
        lines.append(
            '- **Isso**: `<script data-isso=".../" data-isso-max-comments-nested="inf" '
            'src=".../js/embed.min.js">` and `<section id="isso-thread" '
            f'data-isso-id="{ARTICLE_PATH}">`, as Isso\'s docs embed it, except '
            '`max-comments-nested` (default 5, which would hide most replies behind "show more" '
            f"links): with it, Isso fetches all {count} comments at once. Its script reports no "
            "time, so a MutationObserver on the thread element records when "
            f"{count} `.isso-comment` elements are under `#isso-root`. Isso first fetches "
            "`/config`, then the thread, and links its stylesheet; its default avatars are "
            "identicons it draws as inline SVG."
        )
    lines += [
        "- **Same footing**: both widgets are also timed from the end of their script's "
        "download (Resource Timing `responseEnd` of the script) to all comments in the DOM; "
        "for Townhall that adds compiling the script to the time above. Isso is also timed "
        "from an inline mark just before its script tag; Chromium's preload scanner has "
        "usually fetched the script by then, so the two are close.",
        "- **Where the time goes**: Resource Timing of the one request for the thread splits "
        "the time after the script's download into: until that request is sent (Townhall: "
        "compiling and starting the script, building the widget's frame; Isso: the same and "
        "its `/config` request), the request itself (connection, server, transfer), and from "
        "its response to all comments in the DOM (parsing the JSON, rendering each comment).",
        f"- **Runs**: {measured['warmup_runs']} unmeasured + {measured['runs']} measured page "
        "loads per widget, each in a new browser context (empty HTTP cache, no open "
        "connection to reuse), one after the other; p90 interpolates between runs.",
        "- **Background load**: CPU share busy with other work in the second before the first "
        f"page load (server idle): {busy}.",
    ]
    return "\n".join(lines)


def section_markdown(env: dict[str, Any], measured: dict[str, Any]) -> str:
    """The whole docs/benchmarks.md section for this benchmark."""
    m, results = env["machine"], measured["results"]
    software = ", ".join(f"{r['name']} {r['version']}" for r in results)
    b = measured["browser"]
    noisy = [r["name"] for r in results if r["background_cpu_busy"] > BUSY_WARNING]
    noise = (
        f"\n**Noisy run**: other work kept the machine over {BUSY_WARNING:.0%} busy before the "
        f"page loads of {', '.join(noisy)} (see Method); rerun on a quiet machine.\n"
        if noisy
        else ""
    )
    ratio_note = (
        "Ratios are Townhall divided by Isso: lower is better."
        if {r["name"] for r in results} >= {"Townhall", "Isso"}
        else ""
    )
    return f"""
## The embed widget: download size and time to show 200 comments, Townhall vs Isso 0.14

- **Date**: {env["date"]}
- **Machine**: {m["cpu"]}, {m["cores"]} cores, {m["ram_gib"]} GiB RAM, {m["os"]}, \
kernel {m["kernel"]}
- **Software**: harness on Python {env["harness_python"]}; {software}; Chromium \
{b["chromium"]}, Playwright {b["playwright"]}

### Command

```sh
{env["command"]}
```

(`python bench/run.py --benchmark widget` reruns this section alone; it took \
{measured["seconds"]:.0f} s.)

### Size

{size_method(measured)}

{report.table(SIZE_HEADERS, size_rows(results), text_columns=2)}

{ratio_note}

Target: {size_verdict(measured)}.

### Time to show {len(corpus.comments())} comments

{render_method(env, measured)}

{report.table(RENDER_HEADERS, render_rows(results), text_columns=2)}

{ratio_note}

Where the time goes after the script's download (the median of each part, so the parts need
not add up to the median above):

{report.table(PHASE_HEADERS, phase_rows(results))}
{noise}
Target: {render_verdict(measured)}.
"""
