"""Benchmark: the first page of a 10,000-comment thread against that of a 20-comment thread.

The target: reading the first page of a 10,000-comment thread costs at most
1.5x what it costs for a 20-comment thread.

Setup: a fresh SQLite database (`townhall migrate`, `townhall createsite`,
as for the other benchmarks), then bench/big_thread_app.py `seed` in the
project's Python: two threads of one site through the real actions
(`do_post_comment`, `do_vote_comment`; the moderation pipeline runs on every
comment with the site's default rules), one of 10,000 comments with 4,000
votes, one of 20 comments with 12 votes, shaped like a live discussion
(roots and nested replies; busy subthreads draw more replies, and votes).

Two first pages, each with its first 3 replies per top-level comment (the
default; the rest are counted, to be loaded on demand): the one the widget
asks for (`limit` = its page size, read from embed.js: 20), which is judged,
and the API's default page (`limit=50`, the server-rendered page's), shown
beside it. Two measurements of each by each sort, newest (the default),
oldest and most_voted, for both threads:

- warm: `townhall serve --workers 2` serving it from its page cache (the
  fast path), loaded with wrk, one URL at a time, as in the thread read
  benchmark but `--page-duration` seconds each after a warm-up of at most
  2 s;
- cold: what a reader pays after each new comment, when the page cache
  misses: in one process, both page caches cleared before every
  `GET /api/v1/threads` through Django's WSGI application (the handler
  `townhall serve` runs Django with), at least 30 and up to 300 builds or
  2 s per page; p50 and p99 per build. The slowest page is then built
  again under cProfile, and SQLite's plan of each query is recorded.

Run through `python bench/run.py --benchmark big-thread`.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import report
import townhall_peer
import wrk
from notifications import source_state
from report import TIMES
from support import (
    BENCH_DIR,
    BenchError,
    free_port,
    http_json,
    start_server,
    stop_server,
    wait_until_ready,
    with_server_log,
)

BENCH_KEY = "big-thread"
TARGET = 1.5  # the big thread's first page costs at most 1.5x the small thread's
APP = BENCH_DIR / "big_thread_app.py"
SORTS = ("newest", "oldest", "most_voted")
THREADS = {"small": "http://127.0.0.1:9999/news/small-story"}
THREADS["big"] = "http://127.0.0.1:9999/news/big-story"
WARMUP_S = 2
REPO = BENCH_DIR.parent


def _constant(path: str, pattern: str) -> int:
    """A number the product defines, read from its source so the benchmark follows it."""
    match = re.search(pattern, (REPO / path).read_text("utf-8"), re.M)
    if not match:
        raise BenchError(f"{pattern!r} not found in {path}")
    return int(match.group(1))


# The judged page first, then the one shown beside it.
PAGES = {
    "widget": _constant("townhall/widget/static_src/embed.js", r"^\s*const PAGE_SIZE = (\d+);"),
    "api": _constant("townhall/discussions/pages.py", r"^DEFAULT_LIMIT = (\d+)$"),
}
REPLIES = _constant("townhall/discussions/pages.py", r"^REPLIES_PER_ROOT = (\d+)$")
JUDGED_PAGE = "widget"
PAGE_LABELS = {"widget": "the widget's", "api": "the API's default"}


def app(
    python: Path, env: dict[str, str], workdir: Path, command: str, *args: str
) -> dict[str, Any]:
    """Run one command of bench/big_thread_app.py; its JSON answer."""
    try:
        result = subprocess.run(
            [str(python), "-P", str(APP), command, *args],
            env=env,
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise BenchError(f"`big_thread_app.py {command}` timed out") from error
    if result.returncode != 0 or not result.stdout.strip():
        tail = "\n".join((result.stderr or result.stdout).splitlines()[-20:])
        raise BenchError(f"`big_thread_app.py {command}` failed ({result.returncode}):\n{tail}")
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def page_url(base: str, thread: str, sort: str, limit: int) -> str:
    query = {"site": townhall_peer.SITE, "url": THREADS[thread], "sort": sort, "limit": limit}
    return f"{base}/api/v1/threads?{urlencode(query)}"


def count_comments(nodes: list[dict[str, Any]]) -> int:
    return sum(1 + count_comments(node.get("replies") or []) for node in nodes)


def warm_reads(
    townhall: Path, env: dict[str, str], workdir: Path, args: argparse.Namespace
) -> list[dict[str, Any]]:
    """Serve the seeded database with `townhall serve --workers 2`; load each page with wrk."""
    command = townhall_peer.server_command(townhall, "granian", townhall_peer.WORKERS)
    port = free_port()
    argv = [*command, "--host", "127.0.0.1", "--port", str(port)]
    log_path = workdir / "server.log"
    proc = start_server(argv, env, log_path, cwd=workdir)
    options = argparse.Namespace(**vars(args))
    options.duration, options.warmup = args.page_duration, min(args.warmup, WARMUP_S)
    results = []
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_ready(f"{base}/healthz", proc, log_path)
        for page_name, limit in PAGES.items():
            for sort in SORTS:
                for thread in THREADS:
                    url = page_url(base, thread, sort, limit)
                    status, page, raw = http_json("GET", url)
                    if status != 200 or not isinstance(page, dict):
                        error = BenchError(f"GET {url} answered {status}: {raw[:300]!r}")
                        raise with_server_log(error, log_path)
                    print(f"  {page_name} page (limit {limit}), {thread} thread, {sort}:")
                    load = wrk.measure(url, proc.pid, options)
                    results.append(
                        {
                            "page": page_name,
                            "limit": limit,
                            "sort": sort,
                            "thread": thread,
                            "comments": count_comments(page["comments"]),
                            "bytes": len(raw),
                            **load,
                        }
                    )
    finally:
        stop_server(proc)
    return results


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    """Seed, warm reads through the server, then cold builds in one process."""
    started = time.monotonic()
    source = source_state()
    townhall = townhall_peer.townhall_bin()
    python = townhall.parent / "python"
    versions = townhall_peer.installed_versions(python)
    with tempfile.TemporaryDirectory(prefix="bench-big-thread-") as tmp:
        workdir = Path(tmp)
        env = townhall_peer.server_env(workdir)
        townhall_peer.prepare(townhall, env, workdir)
        print("seeding 10,000 + 20 comments and their votes through the actions ...", flush=True)
        seed = app(python, env, workdir, "seed")
        print(f"  seeded in {seed['seconds']:.0f} s", flush=True)
        print("warm reads: `townhall serve --workers 2`, wrk on each page ...", flush=True)
        warm = warm_reads(townhall, env, workdir, args)
        print("cold builds: page caches cleared before every request ...", flush=True)
        cold = app(python, env, workdir, "cold", *(str(limit) for limit in PAGES.values()))
    return {
        "seconds": round(time.monotonic() - started),
        "source": source,
        "versions": versions,
        "seed": seed,
        "warm": warm,
        "cold": cold,
    }


# ---- the report -------------------------------------------------------------------------------


def _pair(
    rows: list[dict[str, Any]], sort: str, page: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    limit = PAGES[page]
    by_thread = {r["thread"]: r for r in rows if r["sort"] == sort and r["limit"] == limit}
    return by_thread["small"], by_thread["big"]


def cost_ratios(measured: dict[str, Any], page: str) -> dict[str, dict[str, float]]:
    """Per sort, the big page's cost over the small one's: warm (the small page's requests/s
    over the big one's, and p50 latency) and cold (p50 and p99 per build)."""
    ratios = {}
    for sort in SORTS:
        small, big = _pair(measured["warm"], sort, page)
        cold_small, cold_big = _pair(measured["cold"]["results"], sort, page)
        ratios[sort] = {
            "warm_rps": small["wrk"]["requests_per_sec"] / big["wrk"]["requests_per_sec"],
            "warm_p50": big["wrk"]["latency_p50_ms"] / small["wrk"]["latency_p50_ms"],
            "cold_p50": cold_big["p50_ms"] / cold_small["p50_ms"],
            "cold_p99": cold_big["p99_ms"] / cold_small["p99_ms"],
        }
    return ratios


# The verdict is on the typical cost; p99 of a few hundred requests on 2 shared cores is
# mostly preemption (see the background load), so it is shown beside it, not judged.
JUDGED = ("warm_rps", "warm_p50", "cold_p50")


WARM_HEADERS = ["Page", "Sort", "Thread", "Comments", "Bytes", "Requests/s", "p50 (ms)"]
WARM_HEADERS += ["p99 (ms)"]
COLD_HEADERS = ["Page", "Sort", "Thread", "Comments", "Builds", "p50 (ms)", "p99 (ms)"]
COLD_HEADERS += ["SQLite (ms)", "Statements"]


def page_label(page: str) -> str:
    return f"{page} (limit {PAGES[page]})"


def warm_rows(measured: dict[str, Any]) -> list[list[str]]:
    rows = []
    for page, sort in ((page, sort) for page in PAGES for sort in SORTS):
        small, big = _pair(measured["warm"], sort, page)
        for r in (small, big):
            s = r["wrk"]
            rows.append(
                [
                    page_label(page),
                    f"`{sort}`",
                    thread_label(measured, r["thread"]),
                    f"{r['comments']:,}",
                    f"{r['bytes']:,}",
                    report.number(s["requests_per_sec"]),
                    report.number(s["latency_p50_ms"]),
                    report.number(s["latency_p99_ms"]),
                ]
            )
        ratio = [
            big["wrk"]["requests_per_sec"] / small["wrk"]["requests_per_sec"],
            big["wrk"]["latency_p50_ms"] / small["wrk"]["latency_p50_ms"],
            big["wrk"]["latency_p99_ms"] / small["wrk"]["latency_p99_ms"],
        ]
        rows.append(
            [
                page_label(page),
                f"`{sort}`",
                "big / small",
                report.ratio(big["comments"] / small["comments"]),
                report.ratio(big["bytes"] / small["bytes"]),
                *(report.ratio(x) for x in ratio),
            ]
        )
    return rows


def cold_rows(measured: dict[str, Any]) -> list[list[str]]:
    rows = []
    for page, sort in ((page, sort) for page in PAGES for sort in SORTS):
        small, big = _pair(measured["cold"]["results"], sort, page)
        for r in (small, big):
            rows.append(
                [
                    page_label(page),
                    f"`{sort}`",
                    thread_label(measured, r["thread"]),
                    f"{r['comments']:,}",
                    f"{r['builds']}",
                    report.number(r["p50_ms"]),
                    report.number(r["p99_ms"]),
                    report.number(r["sql_ms"]),
                    f"{r['statements']:.0f}",
                ]
            )
        rows.append(
            [
                page_label(page),
                f"`{sort}`",
                "big / small",
                report.ratio(big["comments"] / small["comments"]),
                "",
                report.ratio(big["p50_ms"] / small["p50_ms"]),
                report.ratio(big["p99_ms"] / small["p99_ms"]),
                report.ratio(big["sql_ms"] / small["sql_ms"]),
                "",
            ]
        )
    return rows


def thread_label(measured: dict[str, Any], thread: str) -> str:
    shape = measured["seed"]["threads"][thread]
    return f"{thread} ({shape['comments']:,} comments)"


def verdict_lines(
    measured: dict[str, Any], page: str = JUDGED_PAGE, markdown: bool = True
) -> list[str]:
    """One verdict per sort: the big page within TARGET x the small one, warm and cold."""
    lines = []
    for sort, r in cost_ratios(measured, page).items():
        met = max(r[key] for key in JUDGED) <= TARGET
        word = "met" if met else "not met"
        if page != JUDGED_PAGE:
            word = f"{word}, not judged"
        word = f"**{word}**" if markdown else word.upper()
        lines.append(
            f"`{sort}`: {word} (warm: {r['warm_rps']:.2f}{TIMES} the time per request at full "
            f"load, p50 {r['warm_p50']:.2f}{TIMES}; cold build: p50 {r['cold_p50']:.2f}{TIMES}; "
            f"not judged: cold p99 {r['cold_p99']:.2f}{TIMES})"
        )
    return lines


def print_results(measured: dict[str, Any]) -> None:
    print()
    print("warm (page cache, wrk):")
    print(report.text_table(WARM_HEADERS, warm_rows(measured), text_columns=2))
    print()
    print("cold (page built for every request):")
    print(report.text_table(COLD_HEADERS, cold_rows(measured), text_columns=2))
    print()
    print(f"Target: the 10,000-comment thread's first page within {TARGET}{TIMES} the small one's")
    for page in PAGES:
        print(f"  {PAGE_LABELS[page]} page (limit {PAGES[page]}):")
        for line in verdict_lines(measured, page, markdown=False):
            print(f"    {line}")


def profile_rows(measured: dict[str, Any], key: str, limit: int = 12) -> list[list[str]]:
    return [
        [
            f"`{f['function']}`",
            f"{f['calls']:,.0f}",
            report.number(f["own_ms"]),
            report.number(f["cumulative_ms"]),
        ]
        for f in measured["cold"]["profile"][key][:limit]
    ]


PROFILE_HEADERS = ["Function", "Calls", "Own (ms)", "Cumulative (ms)"]


def plan_lines(measured: dict[str, Any]) -> list[str]:
    """SQLite's plans for the two comment queries of a build (the roots, their replies), each
    step once (the replies' statement repeats one lookup per root)."""
    lines = []
    for sort, plans in measured["cold"]["plans"].items():
        comments = [p for p in plans if '"townhall_discussions_comment"' in p["sql"]]
        steps = "; ".join(
            " / ".join(f"`{step}`" for step in dict.fromkeys(p["plan"])) for p in comments
        )
        lines.append(f"- `{sort}`: {steps}")
    return lines


def shape_line(shape: dict[str, Any]) -> str:
    statuses = ", ".join(f"{k} {v:,}" for k, v in shape["statuses"].items())
    return (
        f"{shape['comments']:,} comments ({statuses}), {shape['roots']:,} of them top-level, "
        f"replies nested up to depth {shape['max_depth']}, the busiest roots with "
        f"{', '.join(str(n) for n in shape['replies_per_root_top10'][:5])} replies; "
        f"{shape['votes']:,} votes; posted in {shape['posting_s']} s, voted in "
        f"{shape['voting_s']} s"
    )


def method_markdown(env: dict[str, Any], measured: dict[str, Any]) -> str:
    seed, opts = measured["seed"], env["options"]
    warm = measured["warm"]
    busy = ", ".join(
        f"{r['thread']} {r['sort']} {r['background_cpu_busy']:.0%}" for r in measured["warm"]
    )
    return "\n".join(
        [
            "- **Data**: one site, two threads, posted through the real actions in one process "
            "(`bench/big_thread_app.py seed`: `do_post_comment`, then `do_vote_comment`; the "
            "moderation pipeline with the site's default rules on every comment; comment texts "
            "and names from the thread read corpus' generator, `bench/corpus.py`), seed "
            f"{seed['seed']}. Seeding took {seed['seconds']:.0f} s in all.",
            f"  - big: {shape_line(seed['threads']['big'])}.",
            f"  - small: {shape_line(seed['threads']['small'])}.",
            "  - Shape: 35% of comments are top-level; a reply goes to a root chosen in "
            "proportion to the replies it already has (half the time), among the 100 latest "
            "roots (30%) or at random (20%), then to that root or one of its recent replies, so "
            "subthreads nest; votes (80% up) go to roots in proportion to (1 + replies)^0.8, "
            "to replies less, with a log-normal spread.",
            "- **The pages**: `GET /api/v1/threads?site=bench&url=...&sort=SORT&limit=LIMIT`: "
            f"the first LIMIT top-level comments by the sort, each with its first {REPLIES} "
            "visible replies nested under it (the default; a top-level comment with more "
            "carries their number and a cursor, and the widget loads them when the reader "
            "asks). **widget**: LIMIT "
            f"{PAGES['widget']}, the widget's first request (its page size, read from "
            "`embed.js`): the page readers load, and the one judged. **api**: LIMIT "
            f"{PAGES['api']}, the API's default, which the server-rendered page (readers "
            "without JavaScript, search engines) uses: shown beside it, not judged.",
            f"- **Warm**: `{shlex.join(shlex.split(warm[0]['wrk_command'])[:-1])}` per URL after a "
            f"{min(opts['warmup'], WARMUP_S)} s warm-up, on `townhall serve --workers 2` "
            "(pages answered from its page cache by the fast path), one URL after the other; "
            f"wrk {env['wrk_version']} on 127.0.0.1.",
            "- **Cold**: `bench/big_thread_app.py cold`, one process: before every request this "
            "process's page copies (`pages.local_pages`) and Django's cache (locmem, no Redis) "
            "are cleared, so each `GET` through Django's WSGI application (middleware, "
            "django-ninja, the view) builds the page: the thread, its latest live event, the "
            "page of roots, their replies, JSON. At least 30 builds per page, up to 300 or "
            "2 s; garbage collector on. SQLite is the time in `cursor.execute` (Django's "
            "`execute_wrapper`); rows are fetched and turned into dicts outside it.",
            "- **Target**: the big thread's first page (the widget's) costs at most 1.5"
            + TIMES
            + " the small one's, for each sort: judged on the time per request at full load "
            "(the small page's requests/s over the big one's) and p50 latency when warm, and "
            "p50 per build when cold; p99 is shown, not judged (a few hundred requests on 2 "
            "shared cores: mostly preemption).",
            f"- **Background load**: CPU share busy with other work in the second before each "
            f"warm load (server idle): {busy}.",
        ]
    )


def cost_line(measured: dict[str, Any]) -> tuple[float, float]:
    """Least-squares fit of the cold builds' p50 (ms) on the comments of the page: (fixed ms,
    ms per comment)."""
    points = [(r["comments"], r["p50_ms"]) for r in measured["cold"]["results"]]
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread if spread else 0.0
    return mean_y - slope * mean_x, slope


def limits_markdown(measured: dict[str, Any]) -> str:
    """What makes the big thread's first page cost more, from the measurements."""
    fixed, per_comment = cost_line(measured)
    small = _pair(measured["cold"]["results"], "newest", JUDGED_PAGE)[0]
    budget = (TARGET - 1) * small["p50_ms"]
    most = small["comments"] + budget / per_comment if per_comment > 0 else float("inf")
    largest = max(measured["cold"]["results"], key=lambda r: r["comments"])
    sizes = "; ".join(
        f"{page}: "
        + ", ".join(
            f"`{sort}` {big['comments']:,} comments, {big['bytes'] / 1024:,.0f} KiB"
            for sort in SORTS
            for big in [_pair(measured["warm"], sort, page)[1]]
        )
        for page in PAGES
    )
    return f"""
### What limits it

- **The size of the page**: a first page holds LIMIT top-level comments and at most {REPLIES} \
visible replies under each (plus the rare placeholder above one), so at most \
{PAGES[JUDGED_PAGE] * (1 + REPLIES)} comments on the widget's page and \
{PAGES["api"] * (1 + REPLIES)} on the API's default one, whatever the thread; the small \
thread's pages hold {small["comments"]} (it has 6 top-level comments). The big thread's: \
{sizes}. What costs more is those comments, not the thread's size: the same 5 statements by \
the same indexes for any thread (plans above), {largest["sql_ms"]:.2f} ms of SQLite for the \
largest page.
- **Cold**: a build costs about {fixed:.2f} ms whatever the page (Django, django-ninja, the \
thread's lookups, compiling the ORM's queries) plus {per_comment * 1000:.1f} µs per comment on \
it (a least-squares line through the twelve pages' p50): SQLite's rows, the dict per comment, \
the nesting, `orjson`. Within {TARGET}{TIMES} of the 20-comment thread's \
{small["p50_ms"]:.2f} ms, a first page can hold about {most:,.0f} comments.
- **Warm**: the fast path serves the page from memory; what grows is the bytes, and with them \
the time to send them.
"""


def section_markdown(env: dict[str, Any], measured: dict[str, Any]) -> str:
    """The whole docs/benchmarks.md section for this benchmark."""
    m, v, src = env["machine"], measured["versions"], measured["source"]
    changes = (
        f" plus uncommitted changes to {', '.join(src['townhall_changes'])}"
        if src["townhall_changes"]
        else ""
    )
    profiled = measured["cold"]["profiled"]
    wrk_lines = "\n".join(r["wrk_command"] for r in measured["warm"])
    verdicts = "\n".join(f"- {line}" for line in verdict_lines(measured))
    api_verdicts = "\n".join(f"- {line}" for line in verdict_lines(measured, "api"))
    return f"""
## The first page of a 10,000-comment thread against a 20-comment thread

- **Date**: {env["date"]}
- **Machine**: {m["cpu"]}, {m["cores"]} cores, {m["ram_gib"]} GiB RAM, {m["os"]}, \
kernel {m["kernel"]}
- **Software**: harness on Python {env["harness_python"]}; Townhall {v.get("townhall", "?")} \
(commit {src["commit"]}{changes}) on Python {v["python"]}, Django {v.get("django", "?")}, \
granian {v.get("granian", "?")}, SQLite

### Command

```sh
{env["command"]}
```

(`python bench/run.py --benchmark big-thread` reruns this section alone; it took \
{measured["seconds"]} s), which ran, per page (ports are chosen at random):

```sh
{wrk_lines}
```

### Method

{method_markdown(env, measured)}

### Warm: served from the page cache

{report.table(WARM_HEADERS, warm_rows(measured), text_columns=2)}

{report.load_notes([(f"{r['thread']} {r['sort']}", r) for r in measured["warm"]])}
### Cold: the page built for every request

{report.table(COLD_HEADERS, cold_rows(measured), text_columns=2)}

Ratios are big divided by small. SQLite's plans for the big thread's two comment queries (the
page of roots; their replies: per root a `LIMIT {REPLIES}` lookup, the hidden ones, the totals,
each step listed once); the other three (site, thread, latest live event) are lookups by a
unique index:

{chr(10).join(plan_lines(measured))}

The slowest page (limit {profiled["limit"]}, `{profiled["sort"]}`, {profiled["thread"]} thread) \
built again 20 times under
cProfile (ms per build, cProfile's overhead included). The functions with the most time of their
own:

{report.table(PROFILE_HEADERS, profile_rows(measured, "by_own_time"))}

Townhall's own functions, by cumulative time:

{report.table(PROFILE_HEADERS, profile_rows(measured, "townhall", limit=8))}
{limits_markdown(measured)}
### Target

The first page of the 10,000-comment thread costs at most {TARGET}{TIMES} that of the 20-comment
thread, warm and cold. Judged on the page readers load, {PAGE_LABELS[JUDGED_PAGE]} first \
request (limit {PAGES[JUDGED_PAGE]}):

{verdicts}

Shown beside it, {PAGE_LABELS["api"]} page (limit {PAGES["api"]}, the server-rendered page's):

{api_verdicts}
"""
