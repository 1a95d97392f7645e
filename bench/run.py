"""Benchmarks: thread read and embed widget, Townhall vs Isso 0.14 (and the limit); Granian vs
uvicorn; email; re-anchoring; the moderation pipeline; posting with moderation on, Townhall vs
Isso; the first page of a 10,000-comment thread; memory per process under load; live
updates; importing a Disqus export, Townhall vs Isso.

Usage: python bench/run.py [--benchmark thread-read,servers,widget,notifications,anchoring,
                                        moderation,posting,big-thread,memory,live,import]
                           [--duration 10] [--runs 15] [--subscribers 10000]
                           [--servers townhall,isso,limit] [--posts 20000]
                           [--page-duration 5] [--import-comments 1000000]

thread-read: each server is installed/prepared, started on a free 127.0.0.1
port, seeded with the same deterministic corpus (bench/corpus.py) through its
own HTTP API, checked to return all 200 comments in one read, warmed up, then
loaded with wrk. Servers run one at a time, so they never compete for the 2
cores. Memory is summed over each server's processes right after its load.
The third server is the limit (bench/limit_peer.py): the same Granian, with
the options of `townhall serve --workers 2`, running a minimal ASGI app that
returns from memory the very answer (status, headers, body) Townhall gave to
the read in the same run.

servers: the same seeded Townhall, served by Granian (`townhall serve`) and
by uvicorn, one at a time, loaded on the thread read and on /healthz
(bench/asgi_servers.py).

widget: the embed widget of each, Townhall and Isso: the gzip -9 size of
everything a page downloads for it, and in Chromium (Playwright) the time from
its script's start to all 200 comments in the DOM, over page loads in fresh
browser contexts (bench/widget.py).

notifications: one comment on a thread with 10,000 subscribers, on a fresh
SQLite database: the time `townhall worker` takes to record the 10,000
deliveries and queue their send batches, then the time 1 and 2 workers take
to send them all to an SMTP sink (aiosmtpd), beside the pace at which that
sink accepts the same messages from a plain smtplib loop
(bench/notifications.py).

anchoring: re-anchoring passage comments after the article was edited: the
acceptance corpus (tests/anchoring/cases.json) through Python's `locate` (in
the project's venv) and the widget's JavaScript twin (in Chromium), right /
total and agreement case by case; then the time per anchor on a ~5,000-word
article, 200 anchors, text unchanged / paragraph at the top / typo in every
quote (bench/anchoring.py).

moderation: the moderation pipeline on one core (each measuring process pins
itself to one), on a fresh SQLite database with a site's rules (about 200
banned and 200 suspect words, max_links 3, toxicity threshold 0.9, Akismet
off: a network service) and a history of thousands of comments and bans:
5,000 generated comments through `run_pipeline` with the compiled toxicity
table, then with alt-profanity-check's own `predict_prob` per comment (the
reference), the classifier alone (table, library per call, library
batched), `do_post_comment` end to end; the table's scores against the
library's, and peak memory with and without scikit-learn
(bench/moderation.py).

posting: `POST` of a new comment per request, Townhall (`townhall serve
--workers 2`, its site with a newsroom's moderation rules, the pipeline and
its classifier on every post, rate limits off) vs Isso (gunicorn, 2 sync
workers, its guard on), both on SQLite, loaded by wrk with
bench/posting.lua: every request a different prepared comment from a reader
of its own; 201/202 accepted, anything else an error. Then where a Townhall
post's time goes (one process: timing breakdown, cProfile) and Townhall again
with its SQLite write lock timed (bench/posting_probe.py)
(bench/posting.py).

big-thread: the first page of a 10,000-comment thread against a 20-comment
thread (the widget's, limit 20, judged; and the API's default, limit 50),
seeded through the actions, by each sort: warm (served
from the page cache by `townhall serve --workers 2`, wrk) and cold (page
caches cleared before every request through Django, p50/p99 per build)
(bench/big_thread.py).

memory: the resident size (VmRSS) of every process of each server (parent
and workers), sampled during the loads of thread-read and posting of the
same invocation (run first if not selected): steady and peak per process
(bench/memory.py).

live: 2,000 concurrent readers of a thread's live event stream
(`GET /api/v1/threads/{id}/events`) from one asyncio client on 127.0.0.1; 20
comments posted, one every 0.5 s; post-to-delivery latency over every reader
and post: on one process, then on two processes through Redis (1,000 readers
each, posts alternating), with the servers' memory with every stream open
(bench/live.py).

import: a generated Disqus export of 100,000 posts through `townhall import`
and through Isso 0.14's `isso import`, each on a fresh SQLite database, then
the same file through Townhall again (nothing new may be written), then
1,000,000 posts through Townhall (the target: under 10 minutes and 300 MB);
wall time, CPU and peak resident size of each importer's process, and the
comments it wrote (bench/importing.py).

Output per benchmark: a table on stdout, raw JSON in bench/results/ and its
own section of docs/benchmarks.md (`thread-read-200`, `asgi-servers`,
`widget`, `notifications`, `anchoring`, `moderation`, `posting`,
`big-thread`, `memory`, `live`, `import`; other sections are kept).
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import signal
import sys
import time
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anchoring
import asgi_servers
import big_thread
import corpus
import importing
import isso_peer
import limit_peer
import live
import memory
import moderation
import notifications
import posting
import report
import townhall_peer
import widget
import wrk
from memory import RssSampler
from report import TIMES
from support import REPO_DIR, BenchError, RunningPeer, group_memory

BENCH_KEY = "thread-read-200"
TARGET_RATIO = 100.0  # Townhall must serve at least 100x Isso's requests/sec
LIMIT_SHARE = 0.5  # ... and at least half the requests/sec of the limit (bench/limit_peer.py)
RESULTS_DIR = Path(__file__).resolve().parent / "results"
DOCS_PATH = REPO_DIR / "docs" / "benchmarks.md"

# The options each benchmark uses (the others are left out of its report and JSON).
WRK_OPTIONS = ("duration", "connections", "threads", "warmup", "timeout")
OPTIONS = {
    BENCH_KEY: (*WRK_OPTIONS, "servers"),
    asgi_servers.BENCH_KEY: WRK_OPTIONS,
    widget.BENCH_KEY: ("runs",),
    notifications.BENCH_KEY: ("subscribers",),
    anchoring.BENCH_KEY: (),
    moderation.BENCH_KEY: (),
    posting.BENCH_KEY: (*WRK_OPTIONS, "posts"),
    big_thread.BENCH_KEY: (*WRK_OPTIONS, "page_duration"),
    memory.BENCH_KEY: (*WRK_OPTIONS, "servers", "posts"),
    live.BENCH_KEY: (),
    importing.BENCH_KEY: ("import_comments",),
}

PeerFactory = Callable[[], AbstractContextManager[RunningPeer]]
PEERS: dict[str, PeerFactory] = {
    "townhall": townhall_peer.running_townhall,
    "isso": isso_peer.running_isso,
}
# The thread read's servers: the peers, then the limit, which returns Townhall's answer.
SERVERS = (*PEERS, "limit")

# The memory of each server's processes under the loads of this invocation, by benchmark
# ("thread-read", "posting"), for the memory benchmark's section.
MEMORY_LOADS: dict[str, dict[str, Any]] = {}


def bounded(low: int, high: int) -> Callable[[str], int]:
    """An argparse type for an integer in [low, high], so every load stays bounded."""

    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return value

    return parse


def add_bounded(
    parser: argparse.ArgumentParser,
    flag: str,
    low: int,
    high: int,
    default: int,
    help_text: str,
    metavar: str = "N",
) -> None:
    """Add an integer option limited to [low, high]; its range and default go in the help."""
    parser.add_argument(
        flag,
        type=bounded(low, high),
        default=default,
        metavar=metavar,
        help=f"{help_text} ({low}-{high}, default {default})",
    )


def comma_list(text: str, allowed: Collection[str], what: str) -> list[str]:
    """Split a comma-separated option into names; raise ArgumentTypeError on unknown ones."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = sorted(set(names) - set(allowed))
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown {what}: {', '.join(unknown)} (choose from: {', '.join(allowed)})"
        )
    return names


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options; all loads are bounded in time and target 127.0.0.1."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--benchmark",
        type=lambda text: comma_list(text, BENCHMARKS, "benchmark(s)"),
        default=list(BENCHMARKS),
        metavar="NAMES",
        help="comma-separated benchmarks to run, in order (default: " + ",".join(BENCHMARKS) + ")",
    )
    add_bounded(parser, "--duration", 1, 300, 10, "wrk duration per measurement", "SECONDS")
    add_bounded(parser, "--connections", 1, 1024, 32, "open HTTP connections")
    add_bounded(parser, "--threads", 1, 16, 2, "wrk threads")
    add_bounded(
        parser,
        "--warmup",
        0,
        60,
        3,
        "unmeasured wrk run before each measurement, 0 for none",
        "SECONDS",
    )
    add_bounded(
        parser,
        "--timeout",
        1,
        120,
        30,
        "wrk per-request timeout; wrk's own 2 s default would drop "
        "Isso's slowest answers from the latency figures",
        "SECONDS",
    )
    parser.add_argument(
        "--servers",
        type=lambda text: comma_list(text, SERVERS, "server(s)"),
        default=list(SERVERS),
        help="thread-read only: comma-separated subset of: " + ", ".join(SERVERS),
    )
    add_bounded(
        parser,
        "--runs",
        3,
        100,
        15,
        "widget only: measured page loads per widget, each in a new browser context, "
        f"after {widget.WARMUP_RUNS} unmeasured",
    )
    add_bounded(
        parser,
        "--subscribers",
        100,
        20_000,
        notifications.SUBSCRIBERS,
        "notifications only: subscribers of the thread, each sent one message per run",
    )
    add_bounded(
        parser,
        "--posts",
        100,
        60_000,
        20_000,
        "posting only: posts prepared per server for the measured load, each sent at most "
        "once (the load stops early if all are sent)",
    )
    add_bounded(
        parser,
        "--page-duration",
        1,
        60,
        5,
        "big-thread only: wrk duration per page (12 pages)",
        "SECONDS",
    )
    add_bounded(
        parser,
        "--import-comments",
        1_000,
        1_000_000,
        importing.TARGET_COMMENTS,
        "import only: posts in the generated Disqus file Townhall alone imports (both importers "
        f"read one of {importing.SIDE_BY_SIDE:,} first)",
    )
    parser.add_argument(
        "--docs",
        type=Path,
        default=DOCS_PATH,
        help="Markdown report to update (default docs/benchmarks.md)",
    )
    parser.add_argument("--no-docs", action="store_true", help="do not touch the Markdown report")
    return parser.parse_args(argv)


def measure(peer: RunningPeer, args: argparse.Namespace) -> dict[str, Any]:
    """Warm up, let the backlog drain, check the machine is quiet, load with wrk, take memory.

    Each process's resident size is also sampled from the warm-up to the end of the load.
    """
    with RssSampler(peer.proc.pid) as sampler:
        load = wrk.measure(peer.read_url, peer.proc.pid, args)
        sampler.load_window(args.duration)
    memory = group_memory(peer.proc.pid)
    peer.check()  # still serving the complete thread after the load
    return {
        "name": peer.name,
        "version": peer.version,
        "python": peer.python,
        "serving": peer.serving,
        "read_path": peer.read_url.split("/", 3)[3],
        "comment_count": peer.comment_count,
        "response_bytes": peer.response_bytes,
        **load,  # wrk_command, wrk, wrk_output, errors, background_cpu_busy
        "notes": peer.notes,
        "memory": memory,
        "rss": sampler.summary(),
    }


def run_all(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Benchmark each selected server in turn; each is stopped before the next starts.

    The limit serves the answer Townhall gave right after its load; when Townhall is not
    among the servers (or comes after it), a Townhall is started, unmeasured, to capture one.
    """
    results = []
    answer: limit_peer.Answer | None = None
    for name in args.servers:
        running: AbstractContextManager[RunningPeer]
        if name == "limit":
            if answer is None:
                print("limit: capturing the answer of a Townhall started for it ...", flush=True)
                answer = limit_peer.capture_from_townhall()
            print(f"limit: starting with Townhall's {len(answer.body)}-byte answer ...")
            running = limit_peer.running_limit(answer)
        else:
            print(
                f"{name}: installing/starting, seeding {len(corpus.comments())} comments ...",
                flush=True,
            )
            running = PEERS[name]()
        started = time.monotonic()
        with running as peer:
            print(
                f"  ready in {time.monotonic() - started:.1f}s: {peer.comment_count} comments, "
                f"{peer.response_bytes} bytes per read",
                flush=True,
            )
            results.append(measure(peer, args))
            if name == "townhall":
                answer = limit_peer.capture_answer(peer.read_url)
    return results


def _columns(result: dict[str, Any]) -> list[float]:
    """The numeric columns of one result row, in table order."""
    stats, memory = result["wrk"], result["memory"]
    return [
        stats["requests_per_sec"],
        stats["latency_p50_ms"],
        stats["latency_p99_ms"],
        stats["transfer_per_sec_bytes"] / 1024 / 1024,
        result["response_bytes"],
        memory["rss_kib"] / 1024,
        memory["pss_kib"] / 1024,
    ]


HEADERS = [
    "Server",
    "Requests/s",
    "p50 (ms)",
    "p99 (ms)",
    "Transfer (MiB/s)",
    "Bytes/response",
    "RSS (MiB)",
    "PSS (MiB)",
]


def table_rows(results: list[dict[str, Any]]) -> list[list[str]]:
    """One row per server, plus Townhall/Isso and Townhall/limit ratio rows when they ran."""
    rows = [[f"{r['name']} {r['version']}", *map(report.number, _columns(r))] for r in results]
    by_name = {r["name"]: r for r in results}
    for other in ("Isso", "Limit"):
        if {"Townhall", other} <= by_name.keys():
            pairs = zip(_columns(by_name["Townhall"]), _columns(by_name[other]), strict=True)
            ratios = [report.ratio(t / i) if i else "n/a" for t, i in pairs]
            rows.append([f"Townhall / {other.lower() if other == 'Limit' else other}", *ratios])
    return rows


def ratio(results: list[dict[str, Any]], other: str = "Isso") -> float | None:
    """Townhall requests/sec divided by `other`'s, or None if one of them did not run."""
    rps = {r["name"]: r["wrk"]["requests_per_sec"] for r in results}
    if "Townhall" in rps and rps.get(other):
        return float(rps["Townhall"] / rps[other])
    return None


def target_lines(results: list[dict[str, Any]], markdown: bool = True) -> list[str]:
    """The verdict on each target whose servers ran: vs Isso, and vs the limit."""

    def word(met: bool) -> str:
        text = "met" if met else "not met"
        return f"**{text}**" if markdown else text.upper()

    lines = []
    factor = ratio(results)
    if factor is not None:
        lines.append(
            f"Townhall serves at least {TARGET_RATIO:.0f}{TIMES} Isso's requests/s: "
            f"{word(factor >= TARGET_RATIO)} ({factor:.1f}{TIMES})."
        )
    share = ratio(results, "Limit")
    if share is not None:
        lines.append(
            f"Townhall serves at least {LIMIT_SHARE:.0%} of the limit's requests/s (the same "
            f"bytes from memory under the same Granian): {word(share >= LIMIT_SHARE)} "
            f"({share:.0%})."
        )
    return lines


def print_table(results: list[dict[str, Any]]) -> None:
    """Print the results as an aligned plain-text table."""
    print()
    print(report.text_table(HEADERS, table_rows(results)))
    for line in target_lines(results, markdown=False):
        print(f"\nTarget: {line}")


def environment(args: argparse.Namespace, key: str) -> dict[str, Any]:
    """Everything about this run of benchmark `key` that is not a measurement.

    Goes into the JSON and the report; `options` are the load options that
    apply to this benchmark.
    """
    items = corpus.comments()
    used = OPTIONS[key]
    return {
        "benchmark": key,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join(["python", "bench/run.py", *sys.argv[1:]]),
        "machine": report.machine(),
        "harness_python": platform.python_version(),
        **({"wrk_version": wrk.version()} if "duration" in used else {}),
        "options": {k: v for k, v in vars(args).items() if k in used},
        "corpus": {
            "seed": corpus.SEED,
            "comments": len(items),
            "roots": sum(1 for c in items if c["parent_key"] is None),
            "max_depth": max(corpus.depths(items).values()),
            "markdown_bytes": sum(len(c["body"].encode()) for c in items),
        },
    }


def save_json(env: dict[str, Any], measured: dict[str, Any]) -> Path:
    """Write the run (environment + raw results incl. wrk output) to bench/results/."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"{env['benchmark']}-{stamp}.json"
    path.write_text(json.dumps({**env, **measured}, indent=2))
    return path


def method_markdown(env: dict[str, Any], results: list[dict[str, Any]]) -> str:
    """The 'Method' part of the report: what is served, how, and how it is loaded."""
    opts, c = env["options"], env["corpus"]
    busy = ", ".join(f"{r['name']} {r['background_cpu_busy']:.0%}" for r in results)
    lines = [
        f"- **Data**: the same deterministic thread in both servers (`bench/corpus.py`, seed "
        f"{c['seed']}): {c['comments']} comments, {c['roots']} roots, replies nested up to "
        f"depth {c['max_depth']}, {c['markdown_bytes']:,} bytes of Markdown with links and "
        "emphasis; posted through each server's own HTTP API before the load, each comment "
        "from its own reader address (`X-Forwarded-For` from 127.0.0.1, `bench/readers.py`).",
        "- **Request**: one GET that returns the whole thread (all comments, rendered HTML, "
        "replies nested); each server was checked to return all "
        f"{c['comments']} comments in it before the load.",
    ]
    for r in results:
        lines.append(
            f"- **{r['name']} {r['version']}** (Python {r['python']}): `GET /{r['read_path']}` "
            f"-> {r['response_bytes']:,} bytes per response; served by {r['serving']}."
        )
    lines += [
        *(f"- {r['notes']}" for r in results),
        f"- **Load**: wrk {env['wrk_version']}, {opts['threads']} threads, {opts['connections']} "
        f"connections, {opts['duration']} s per server after a {opts['warmup']} s warm-up, "
        f"`--timeout {opts['timeout']}s` (so slow answers count in the latency instead of being "
        "dropped as timeouts), on 127.0.0.1. wrk sends no `Accept-Encoding`, so bodies are "
        "uncompressed. The servers run one after the other, never both at once, and wrk "
        "shares the same cores.",
        "- **Background load**: CPU share busy with other work in the second before each "
        f"measurement (server idle): {busy}.",
        "- **Memory**: summed over all processes of each server (master and workers) right "
        "after its load, from `/proc`: RSS (counts pages shared by workers once per worker) "
        "and PSS (shares them out). Per process, under load: see the memory section.",
    ]
    if any(r["name"] == "Limit" for r in results):
        lines.insert(
            2,
            "- **The limit** (`bench/limit_peer.py`, `bench/limit_app.py`): the same Granian, "
            "with the options `townhall serve --workers 2` passes it (read from that command in "
            "each run), running a minimal ASGI app that answers every request with the status, "
            "headers and body Townhall gave to this read right after its load in this run, "
            "from memory: the most any Python app behind this server could serve of this "
            "answer on this machine. Checked byte for byte (body and headers) before its load.",
        )
    return "\n".join(lines)


def section_markdown(env: dict[str, Any], results: list[dict[str, Any]]) -> str:
    """The whole docs/benchmarks.md section for this benchmark."""
    m = env["machine"]
    targets = "\n".join(f"- {line}" for line in target_lines(results))
    wrk_lines = "\n".join(r["wrk_command"] for r in results)
    software = ", ".join(f"{r['name']} {r['version']} on Python {r['python']}" for r in results)
    return f"""
## Reading a 200-comment thread: Townhall vs Isso 0.14, and the limit

- **Date**: {env["date"]}
- **Machine**: {m["cpu"]}, {m["cores"]} cores, {m["ram_gib"]} GiB RAM, {m["os"]}, \
kernel {m["kernel"]}
- **Software**: harness on Python {env["harness_python"]}; {software}

### Command

```sh
{env["command"]}
```

which ran, per server (ports are chosen at random):

```sh
{wrk_lines}
```

### Method

{method_markdown(env, results)}

### Results

{report.table(HEADERS, table_rows(results))}

Ratios are Townhall divided by the other: higher is better for requests/s, lower for latency and
memory.
{report.load_notes([(r["name"], r) for r in results])}
### Targets

{targets}
"""


def stop_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so `finally` blocks still stop the servers.

    The servers run in their own sessions (so Ctrl-C in a terminal reaches only
    this script and wrk); without this, `kill` or a CI timeout would leave them running.
    """
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))


def finish(
    args: argparse.Namespace,
    env: dict[str, Any],
    measured: dict[str, Any],
    section: Callable[[], str] | None,
    why_no_section: str = "",
) -> None:
    """Save the raw results and, unless --no-docs, write the benchmark's section of the report."""
    print(f"\nraw results: {save_json(env, measured)}")
    if args.no_docs:
        return
    if section is None:
        print(f"report not updated: {why_no_section}")
        return
    report.upsert_section(args.docs, env["benchmark"], section())
    print(f"report updated: {args.docs}")


def thread_read(args: argparse.Namespace) -> None:
    """The thread read benchmark, Townhall vs Isso: run, print, save, report."""
    env = environment(args, BENCH_KEY)
    results = run_all(args)
    print_table(results)
    MEMORY_LOADS["thread-read"] = {
        "label": "thread read",
        "description": (
            f"the thread read benchmark's wrk load: `GET` of the 200-comment thread, "
            f"{args.threads} threads, {args.connections} connections, {args.duration} s after a "
            f"{args.warmup} s warm-up; the servers one after the other."
        ),
        "servers": [
            {k: r[k] for k in ("name", "version", "background_cpu_busy", "rss")} for r in results
        ],
    }
    reportable = ratio(results) is not None
    finish(
        args,
        env,
        {"ratio": ratio(results), "results": results},
        (lambda: section_markdown(env, results)) if reportable else None,
        "it needs both Townhall and Isso in the same run",
    )


def server_choice(args: argparse.Namespace) -> None:
    """The ASGI server benchmark, Townhall on Granian vs uvicorn: run, print, save, report."""
    env = environment(args, asgi_servers.BENCH_KEY)
    results = asgi_servers.run_all(args)
    print()
    print(asgi_servers.text_table(results))
    print(f"\n{asgi_servers.conclusion(results, markdown=False)}")
    finish(args, env, {"results": results}, lambda: asgi_servers.section_markdown(env, results))


def widget_bench(args: argparse.Namespace) -> None:
    """The embed widget benchmark, Townhall vs Isso: size and render time; print, save, report."""
    env = environment(args, widget.BENCH_KEY)
    measured = widget.run_all(args)
    widget.print_results(measured)
    finish(args, env, measured, lambda: widget.section_markdown(env, measured))


def notifications_bench(args: argparse.Namespace) -> None:
    """The notifications benchmark: one comment's email, queued and sent; print, save, report."""
    env = environment(args, notifications.BENCH_KEY)
    measured = notifications.run_all(args)
    notifications.print_results(measured)
    finish(args, env, measured, lambda: notifications.section_markdown(env, measured))


def anchoring_bench(args: argparse.Namespace) -> None:
    """The anchoring benchmark: corpus accuracy, Python and JS, and time per anchor; report."""
    env = environment(args, anchoring.BENCH_KEY)
    env.pop("corpus")  # the thread corpus of the other benchmarks plays no part here
    measured = anchoring.run_all(args)
    anchoring.print_results(measured)
    finish(args, env, measured, lambda: anchoring.section_markdown(env, measured))


def moderation_bench(args: argparse.Namespace) -> None:
    """The moderation benchmark: pipeline throughput on one core, classifier on; report."""
    env = environment(args, moderation.BENCH_KEY)
    env.pop("corpus")  # the thread corpus of the other benchmarks plays no part here
    measured = moderation.run_all(args)
    moderation.print_results(measured)
    finish(args, env, measured, lambda: moderation.section_markdown(env, measured))


def posting_bench(args: argparse.Namespace) -> None:
    """The posting benchmark, Townhall vs Isso, moderation pipeline on: run, print, save, report."""
    env = environment(args, posting.BENCH_KEY)
    measured = posting.run_all(args)
    posting.print_results(measured)
    MEMORY_LOADS["posting"] = {
        "label": "posting",
        "description": (
            f"the posting benchmark's wrk load: `POST` of a new comment per request, "
            f"{args.threads} threads, {args.connections} connections, {args.duration} s after a "
            f"{args.warmup} s warm-up; Townhall with its moderation pipeline on every post."
        ),
        "servers": [
            {k: r[k] for k in ("name", "version", "background_cpu_busy", "rss")}
            for r in measured["results"]
        ],
    }
    reportable = measured["ratio"] is not None
    finish(
        args,
        env,
        measured,
        (lambda: posting.section_markdown(env, measured)) if reportable else None,
        "it needs both Townhall and Isso in the same run",
    )


def big_thread_bench(args: argparse.Namespace) -> None:
    """The first page of a 10,000-comment thread vs a 20-comment one, warm and cold; report."""
    env = environment(args, big_thread.BENCH_KEY)
    env.pop("corpus")  # the thread read's corpus plays no part here
    measured = big_thread.run_all(args)
    big_thread.print_results(measured)
    finish(args, env, measured, lambda: big_thread.section_markdown(env, measured))


def memory_bench(args: argparse.Namespace) -> None:
    """Resident memory per process under the thread read and posting loads of this invocation.

    Runs those benchmarks first (updating their sections too) unless they ran already.
    """
    for key, bench in (("thread-read", thread_read), ("posting", posting_bench)):
        if key not in MEMORY_LOADS:
            print(f"== memory: running {key} for its load", flush=True)
            bench(args)
    env = environment(args, memory.BENCH_KEY)
    env.pop("corpus")
    loads = [MEMORY_LOADS["thread-read"], MEMORY_LOADS["posting"]]
    servers = {s["name"]: s["version"] for load in loads for s in load["servers"]}
    env["software"] = ", ".join(f"{name} {version}" for name, version in servers.items())
    print()
    print(report.text_table(memory.HEADERS, memory.rows(loads), text_columns=3))
    met, worst = memory.verdicts(loads)
    print(f"\nTarget: every Townhall process <= {memory.TARGET_MIB:.0f} MiB: ", end="")
    print(f"{'MET' if met else 'NOT MET'} ({worst})")
    finish(args, env, {"loads": loads}, lambda: memory.section_markdown(env, loads))


def live_bench(args: argparse.Namespace) -> None:
    """2,000 live event-stream readers: post-to-delivery latency, one process and two; report."""
    env = environment(args, live.BENCH_KEY)
    env.pop("corpus")
    began = time.monotonic()
    measured = live.run()
    seconds = time.monotonic() - began
    live.print_results(measured)
    finish(args, env, measured, lambda: live.section_markdown(env, measured, seconds))


def import_bench(args: argparse.Namespace) -> None:
    """Importing a generated Disqus export, Townhall vs Isso, then the million; report."""
    env = environment(args, importing.BENCH_KEY)
    env.pop("corpus")
    measured = importing.run_all(args)
    importing.print_results(measured)
    finish(args, env, measured, lambda: importing.section_markdown(env, measured))


BENCHMARKS: dict[str, Callable[[argparse.Namespace], None]] = {
    "thread-read": thread_read,
    "servers": server_choice,
    "widget": widget_bench,
    "notifications": notifications_bench,
    "anchoring": anchoring_bench,
    "moderation": moderation_bench,
    "posting": posting_bench,
    "big-thread": big_thread_bench,
    "memory": memory_bench,
    "live": live_bench,
    "import": import_bench,
}
WRK_BENCHMARKS = {"thread-read", "servers", "posting", "big-thread", "memory"}


def main(argv: list[str]) -> int:
    """Run the chosen benchmarks in turn; print, save and report each one's results."""
    args = parse_args(argv)
    stop_on_sigterm()
    try:
        if WRK_BENCHMARKS & set(args.benchmark):
            wrk.ensure_installed()
        for name in args.benchmark:
            print(f"== benchmark {name}", flush=True)
            BENCHMARKS[name](args)
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; servers stopped", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
