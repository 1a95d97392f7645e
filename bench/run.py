"""Benchmark: read a 200-comment thread from Townhall and from Isso 0.14, same run.

Usage: python bench/run.py [--duration 10] [--connections 32]

Each server is installed/prepared, started on a free 127.0.0.1 port, seeded
with the same deterministic corpus (bench/corpus.py) through its own HTTP
API, checked to return all 200 comments in one read, warmed up, then loaded
with wrk. Servers run one at a time, so they never compete for the 2 cores.
Memory is summed over each server's processes right after its load.

Output: a table on stdout, raw JSON in bench/results/ and the section
`thread-read-200` of docs/benchmarks.md (other sections are kept).
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import signal
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import corpus
import isso_peer
import report
import townhall_peer
import wrk
from support import (
    REPO_DIR,
    BenchError,
    RunningPeer,
    cpu_busy_share,
    group_memory,
    wait_until_idle,
)

BENCH_KEY = "thread-read-200"
TARGET_RATIO = 100.0  # Townhall must serve at least 100x Isso's requests/sec
BUSY_WARNING = 0.15  # background CPU share above which a run is flagged as noisy
TIMES = "\u00d7"  # the multiplication sign, for ratios in the report
RESULTS_DIR = Path(__file__).resolve().parent / "results"
DOCS_PATH = REPO_DIR / "docs" / "benchmarks.md"

PeerFactory = Callable[[], AbstractContextManager[RunningPeer]]
PEERS: dict[str, PeerFactory] = {
    "townhall": townhall_peer.running_townhall,
    "isso": isso_peer.running_isso,
}


def bounded(low: int, high: int) -> Callable[[str], int]:
    """An argparse type for an integer in [low, high], so every load stays bounded."""

    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return value

    return parse


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options; all loads are bounded in time and target 127.0.0.1."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--duration",
        type=bounded(1, 300),
        default=10,
        metavar="SECONDS",
        help="wrk duration per server (1-300, default 10)",
    )
    parser.add_argument(
        "--connections",
        type=bounded(1, 1024),
        default=32,
        metavar="N",
        help="open HTTP connections (default 32)",
    )
    parser.add_argument("--threads", type=bounded(1, 16), default=2, help="wrk threads (default 2)")
    parser.add_argument(
        "--warmup",
        type=bounded(0, 60),
        default=3,
        metavar="SECONDS",
        help="unmeasured wrk run before each measurement, 0 for none (default 3)",
    )
    parser.add_argument(
        "--timeout",
        type=bounded(1, 120),
        default=30,
        metavar="SECONDS",
        help="wrk per-request timeout; wrk's own 2 s default would drop "
        "Isso's slowest answers from the latency figures (default 30)",
    )
    parser.add_argument(
        "--servers", default="townhall,isso", help="comma-separated subset of: " + ", ".join(PEERS)
    )
    parser.add_argument(
        "--docs",
        type=Path,
        default=DOCS_PATH,
        help="Markdown report to update (default docs/benchmarks.md)",
    )
    parser.add_argument("--no-docs", action="store_true", help="do not touch the Markdown report")
    args = parser.parse_args(argv)
    args.servers = [name.strip() for name in args.servers.split(",") if name.strip()]
    unknown = sorted(set(args.servers) - set(PEERS))
    if unknown:
        parser.error(f"unknown server(s): {', '.join(unknown)}")
    return args


def measure(peer: RunningPeer, args: argparse.Namespace) -> dict[str, Any]:
    """Warm up, let the backlog drain, check the machine is quiet, load with wrk, take memory."""
    if args.warmup:
        warm = wrk.command(peer.read_url, args.threads, args.connections, args.warmup, args.timeout)
        print(f"  warm-up {args.warmup}s ...", flush=True)
        wrk.run(warm, args.warmup)
    wait_until_idle(peer.proc.pid)
    background = cpu_busy_share(exclude_pgid=peer.proc.pid)
    if background > BUSY_WARNING:
        print(
            f"  WARNING: the machine is {background:.0%} busy with other work "
            "before the load; results will be noisy",
            flush=True,
        )
    argv = wrk.command(peer.read_url, args.threads, args.connections, args.duration, args.timeout)
    print(f"  measuring: {shlex.join(argv)}", flush=True)
    output = wrk.run(argv, args.duration)
    stats = wrk.parse(output)
    memory = group_memory(peer.proc.pid)
    peer.check()  # still serving the complete thread after the load
    errors = sum(stats["socket_errors"].values()) + stats["non_2xx"]
    if errors:
        print(f"  WARNING: {errors} errors/non-2xx answers; see the raw wrk output", flush=True)
    return {
        "name": peer.name,
        "version": peer.version,
        "python": peer.python,
        "serving": peer.serving,
        "read_path": peer.read_url.split("/", 3)[3],
        "comment_count": peer.comment_count,
        "response_bytes": peer.response_bytes,
        "wrk_command": shlex.join(argv),
        "wrk": stats,
        "wrk_output": output,
        "errors": errors,
        "background_cpu_busy": round(background, 3),
        "notes": peer.notes,
        "memory": memory,
    }


def run_all(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Benchmark each selected server in turn; each is stopped before the next starts."""
    results = []
    for name in args.servers:
        print(
            f"{name}: installing/starting, seeding {len(corpus.comments())} comments ...",
            flush=True,
        )
        started = time.monotonic()
        with PEERS[name]() as peer:
            print(
                f"  ready in {time.monotonic() - started:.1f}s: {peer.comment_count} comments, "
                f"{peer.response_bytes} bytes per read",
                flush=True,
            )
            results.append(measure(peer, args))
    return results


def _num(value: float) -> str:
    """Format a measurement with a precision that suits its size."""
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _ratio(value: float) -> str:
    """Format a ratio with two significant digits below 1 (0.0019x, not 0.00x)."""
    return f"{value:.2g}{TIMES}" if value < 1 else f"{_num(value)}{TIMES}"


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
    """One row per server, plus a Townhall/Isso ratio row when both ran."""
    rows = [[f"{r['name']} {r['version']}", *map(_num, _columns(r))] for r in results]
    by_name = {r["name"]: r for r in results}
    if {"Townhall", "Isso"} <= by_name.keys():
        pairs = zip(_columns(by_name["Townhall"]), _columns(by_name["Isso"]), strict=True)
        ratios = [_ratio(t / i) if i else "n/a" for t, i in pairs]
        rows.append(["Townhall / Isso", *ratios])
    return rows


def ratio(results: list[dict[str, Any]]) -> float | None:
    """Townhall requests/sec divided by Isso's, or None if one of them did not run."""
    rps = {r["name"]: r["wrk"]["requests_per_sec"] for r in results}
    if "Townhall" in rps and rps.get("Isso"):
        return float(rps["Townhall"] / rps["Isso"])
    return None


def print_table(results: list[dict[str, Any]]) -> None:
    """Print the results as an aligned plain-text table."""
    rows = [HEADERS, *table_rows(results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    print()
    for row in rows:
        print(
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    factor = ratio(results)
    if factor is not None:
        verdict = "MET" if factor >= TARGET_RATIO else "NOT MET"
        target = f"Townhall >= {TARGET_RATIO:.0f}x Isso requests/s"
        print(f"\nTarget {target}: {verdict} ({factor:.1f}x)")


def environment(args: argparse.Namespace) -> dict[str, Any]:
    """Everything about this run that is not a measurement, for the JSON and the report."""
    items = corpus.comments()
    return {
        "benchmark": BENCH_KEY,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join(["python", "bench/run.py", *sys.argv[1:]]),
        "machine": report.machine(),
        "harness_python": platform.python_version(),
        "wrk_version": wrk.version(),
        "options": {k: v for k, v in vars(args).items() if k not in ("docs", "no_docs")},
        "corpus": {
            "seed": corpus.SEED,
            "comments": len(items),
            "roots": sum(1 for c in items if c["parent_key"] is None),
            "max_depth": max(corpus.depths(items).values()),
            "markdown_bytes": sum(len(c["body"].encode()) for c in items),
        },
    }


def save_json(env: dict[str, Any], results: list[dict[str, Any]]) -> Path:
    """Write the run (environment + raw results incl. wrk output) to bench/results/."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"{BENCH_KEY}-{stamp}.json"
    path.write_text(json.dumps({**env, "ratio": ratio(results), "results": results}, indent=2))
    return path


def method_markdown(env: dict[str, Any], results: list[dict[str, Any]]) -> str:
    """The 'Method' part of the report: what is served, how, and how it is loaded."""
    opts, c = env["options"], env["corpus"]
    busy = ", ".join(f"{r['name']} {r['background_cpu_busy']:.0%}" for r in results)
    lines = [
        f"- **Data**: the same deterministic thread in both servers (`bench/corpus.py`, seed "
        f"{c['seed']}): {c['comments']} comments, {c['roots']} roots, replies nested up to "
        f"depth {c['max_depth']}, {c['markdown_bytes']:,} bytes of Markdown with links and "
        "emphasis; posted through each server's own HTTP API before the load.",
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
        "and PSS (shares them out).",
    ]
    return "\n".join(lines)


def section_markdown(env: dict[str, Any], results: list[dict[str, Any]]) -> str:
    """The whole docs/benchmarks.md section for this benchmark."""
    m = env["machine"]
    factor = ratio(results)
    assert factor is not None
    verdict = "met" if factor >= TARGET_RATIO else "not met"
    wrk_lines = "\n".join(r["wrk_command"] for r in results)
    software = ", ".join(f"{r['name']} {r['version']} on Python {r['python']}" for r in results)
    errors = [f"{r['name']}: {r['errors']}" for r in results if r["errors"]]
    error_note = (
        "Errors or non-2xx answers during the load: " + "; ".join(errors)
        if errors
        else "No socket errors and no non-2xx answers during the load."
    )
    noisy = [r["name"] for r in results if r["background_cpu_busy"] > BUSY_WARNING]
    noise_note = (
        f"\n**Noisy run**: other work kept the machine over {BUSY_WARNING:.0%} busy before "
        f"the load of {', '.join(noisy)} (see Method); rerun on a quiet machine.\n"
        if noisy
        else ""
    )
    return f"""
## Reading a 200-comment thread: Townhall vs Isso 0.14

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

Ratios are Townhall divided by Isso: higher is better for requests/s, lower for latency and memory.
{error_note}
{noise_note}
### Target

Townhall serves at least {TARGET_RATIO:.0f}{TIMES} Isso's requests/s: **{verdict}** \
({factor:.1f}{TIMES}).
"""


def stop_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so `finally` blocks still stop the servers.

    The servers run in their own sessions (so Ctrl-C in a terminal reaches only
    this script and wrk); without this, `kill` or a CI timeout would leave them running.
    """
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))


def main(argv: list[str]) -> int:
    """Run the benchmark; print, save and report the results."""
    args = parse_args(argv)
    stop_on_sigterm()
    try:
        wrk.ensure_installed()
        env = environment(args)
        results = run_all(args)
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; servers stopped", file=sys.stderr)
        return 130
    print_table(results)
    print(f"\nraw results: {save_json(env, results)}")
    if args.no_docs:
        return 0
    if ratio(results) is None:
        print("report not updated: it needs both Townhall and Isso in the same run")
        return 0
    report.upsert_section(args.docs, BENCH_KEY, section_markdown(env, results))
    print(f"report updated: {args.docs}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
