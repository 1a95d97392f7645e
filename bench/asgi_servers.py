"""Benchmark: which ASGI server `townhall serve` should run, Granian or uvicorn.

`townhall serve` runs Granian; this benchmark keeps the record of why. The
same Townhall (same environment, same SQLite setup, the same corpus seeded
through its API by bench/townhall_peer.py) is served once by Granian
(`townhall serve --workers 1`) and once by uvicorn (`uvicorn
townhall.config.asgi:application --workers 1 --no-access-log --http httptools
--loop uvloop`), one after the other, and each is loaded with wrk on two URLs:

- the thread read, which the ASGI fast path answers from memory without
  Django: the request Townhall serves most, where the server's own cost
  per request matters most;
- `/healthz`, Django's full request cycle (middleware, routing, a view) with
  one database query: what every other request pays on top of the server.

Run through `python bench/run.py --benchmark servers`; uvicorn comes with the
project's `bench` extra (`pip install -e '.[bench]'`, which `make bench` does).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import report
import townhall_peer
import wrk
from report import TIMES
from support import BenchError, RunningPeer, group_memory, http_json

BENCH_KEY = "asgi-servers"
WORKERS = 1  # one process each: the server's own cost per request, not how it scales
NAMES = {"granian": "Granian", "uvicorn": "uvicorn"}
CHOSEN = "granian"  # what `townhall serve` runs (townhall/core/management/commands/serve.py)
CLOSE_CALL = 1.05  # a lead under 5% is reported as no clear winner

# (key, label in the table, URL under load)
TARGETS: list[tuple[str, str, Callable[[RunningPeer], str]]] = [
    ("read", "thread read (fast path)", lambda peer: peer.read_url),
    ("healthz", "/healthz (Django, 1 query)", lambda peer: f"{peer.base_url}/healthz"),
]
SHORT = {"read": "thread read", "healthz": "/healthz"}  # the same, in running text
HEADERS = ["URL", "Server", "Requests/s", "p50 (ms)", "p99 (ms)"]


def check_healthz(url: str) -> None:
    """Fail unless /healthz answers 200 with the database up, so the load measures success."""
    status, body, raw = http_json("GET", url)
    if status != 200 or not isinstance(body, dict) or body.get("status") != "ok":
        raise BenchError(f"Townhall /healthz failed: HTTP {status} {raw[:300]!r}")


def measure_server(
    server: str, versions: dict[str, str], args: argparse.Namespace
) -> dict[str, Any]:
    """Start the seeded Townhall on `server`, load each target URL in turn, stop it."""
    started = townhall_peer.running_townhall(workers=WORKERS, server=server)
    with started as peer:
        print(
            f"  ready: {peer.comment_count} comments, {peer.response_bytes} bytes per read; "
            f"served by {peer.serving}",
            flush=True,
        )
        healthz = f"{peer.base_url}/healthz"
        check_healthz(healthz)
        loads = {}
        for key, _label, url_of in TARGETS:
            url = url_of(peer)
            loads[key] = {"path": url.split("/", 3)[3], **wrk.measure(url, peer.proc.pid, args)}
        memory = group_memory(peer.proc.pid)
        peer.check()  # still serving the complete thread after the loads
        check_healthz(healthz)
        return {
            "server": server,
            "name": NAMES[server],
            "version": versions.get(server, "?"),
            "townhall_version": peer.version,
            "python": peer.python,
            "serving": peer.serving,
            "comment_count": peer.comment_count,
            "response_bytes": peer.response_bytes,
            "loads": loads,
            "memory": memory,
        }


def run_all(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Benchmark Townhall on each ASGI server in turn; each is stopped before the next starts."""
    versions = townhall_peer.installed_versions(townhall_peer.townhall_bin().parent / "python")
    results = []
    for server in NAMES:
        print(f"Townhall on {NAMES[server]}: starting, seeding ...", flush=True)
        results.append(measure_server(server, versions, args))
    return results


def _stats(result: dict[str, Any], key: str) -> list[float]:
    """Requests/s, p50 and p99 of one server on one target URL."""
    stats = result["loads"][key]["wrk"]
    return [stats["requests_per_sec"], stats["latency_p50_ms"], stats["latency_p99_ms"]]


def table_rows(results: list[dict[str, Any]]) -> list[list[str]]:
    """Per target URL: one row per server, then Granian / uvicorn when both ran."""
    by_server = {r["server"]: r for r in results}
    rows = []
    for key, label, _url_of in TARGETS:
        for r in results:
            rows.append([label, f"{r['name']} {r['version']}", *map(report.number, _stats(r, key))])
        if by_server.keys() >= NAMES.keys():
            granian, uvicorn = _stats(by_server["granian"], key), _stats(by_server["uvicorn"], key)
            pairs = zip(granian, uvicorn, strict=True)
            ratios = [report.ratio(g / u) if u else "n/a" for g, u in pairs]
            rows.append([label, "Granian / uvicorn", *ratios])
    return rows


def text_table(results: list[dict[str, Any]]) -> str:
    """The results as an aligned plain-text table, for stdout."""
    return report.text_table(HEADERS, table_rows(results), text_columns=2)


def _lead(results: list[dict[str, Any]], key: str) -> tuple[str, str, float, float, float]:
    """(faster, slower, faster's req/s, slower's req/s, factor) on one target URL."""
    rps = {r["server"]: r["loads"][key]["wrk"]["requests_per_sec"] for r in results}
    fast, slow = sorted(rps, key=rps.__getitem__, reverse=True)
    return fast, slow, rps[fast], rps[slow], rps[fast] / rps[slow] if rps[slow] else float("inf")


def conclusion(results: list[dict[str, Any]], markdown: bool = True) -> str:
    """One line, computed from the numbers: which server is faster on the read path."""
    fast, slow, high, low, factor = _lead(results, "read")
    h_fast, _h_slow, h_high, h_low, h_factor = _lead(results, "healthz")
    bold = "**" if markdown else ""
    healthz = "`/healthz`" if markdown else "/healthz"
    if factor < CLOSE_CALL:
        verdict = (
            f"{bold}Neither is clearly faster on the thread read path{bold}: "
            f"{NAMES[fast]} {report.number(high)} vs {NAMES[slow]} {report.number(low)} "
            f"requests/s, within {CLOSE_CALL - 1:.0%}"
        )
    else:
        verdict = (
            f"{bold}{NAMES[fast]} is faster on the thread read path{bold}: "
            f"{report.number(high)} vs {report.number(low)} requests/s "
            f"({factor:.2f}{TIMES} {NAMES[slow]}'s)"
        )
    side = (
        f"on {healthz}, {NAMES[h_fast]} {report.number(h_high)} vs {report.number(h_low)} "
        f"({h_factor:.2f}{TIMES})"
    )
    if factor < CLOSE_CALL:
        choice = f"the read path does not decide between them ({NAMES[CHOSEN]} is kept)"
    elif fast == CHOSEN:
        choice = f"this supports `townhall serve` running {NAMES[CHOSEN]}"
    else:
        choice = (
            f"this does not support `townhall serve` running {NAMES[CHOSEN]}: "
            f"reconsider {NAMES[fast]}"
        )
    return f"{verdict}; {side}; {choice}."


def labelled_loads(results: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Every measurement of the run, labelled like "Granian thread read"."""
    return [
        (f"{r['name']} {SHORT[key]}", load) for r in results for key, load in r["loads"].items()
    ]


def method_markdown(env: dict[str, Any], results: list[dict[str, Any]]) -> str:
    """The 'Method' part of the section: what is served, by what, and how it is loaded."""
    opts, c = env["options"], env["corpus"]
    first = results[0]
    busy = ", ".join(
        f"{label} {load['background_cpu_busy']:.0%}" for label, load in labelled_loads(results)
    )
    memory = ", ".join(
        f"{r['name']} {r['memory']['rss_kib'] / 1024:.0f} MiB RSS / "
        f"{r['memory']['pss_kib'] / 1024:.0f} MiB PSS in {r['memory']['processes']} "
        f"process{'es' if r['memory']['processes'] != 1 else ''}"
        for r in results
    )
    lines = [
        f"- **Data**: Townhall {first['townhall_version']} (Python {first['python']}) with the "
        f"corpus of the thread read benchmark (`bench/corpus.py`, seed {c['seed']}, "
        f"{c['comments']} comments), seeded through its API into a fresh SQLite database "
        "before each server's load by the same code (`bench/townhall_peer.py`), with the same "
        "environment (`TOWNHALL_DEBUG=0`, `TOWNHALL_RATELIMIT=0`, no Redis).",
    ]
    lines += [f"- **{r['name']} {r['version']}**: {r['serving']}." for r in results]
    lines += [
        "- **One worker each**, so the figures compare the servers' own cost per request on "
        "one process, not how they scale; the servers ran one after the other.",
        f"- **Thread read**: `GET /{first['loads']['read']['path']}` -> "
        f"{first['response_bytes']:,} bytes, all {first['comment_count']} comments, answered by "
        "the ASGI fast path from the worker's memory, without Django or the database.",
        "- **`/healthz`**: `GET /healthz` -> Django's whole request cycle (middleware, URL "
        "routing, the view) and one `SELECT 1` on SQLite, like every request the fast path "
        "does not answer.",
        f"- **Load**: wrk {env['wrk_version']}, {opts['threads']} threads, "
        f"{opts['connections']} connections, {opts['duration']} s per URL and server after a "
        f"{opts['warmup']} s warm-up, `--timeout {opts['timeout']}s`, on 127.0.0.1; wrk shares "
        "the same cores.",
        "- **Background load**: CPU share busy with other work in the second before each "
        f"measurement (server idle): {busy}.",
        f"- **Memory** after both loads, summed over the server's processes: {memory}.",
    ]
    return "\n".join(lines)


def section_markdown(env: dict[str, Any], results: list[dict[str, Any]]) -> str:
    """The whole docs/benchmarks.md section for this benchmark."""
    m = env["machine"]
    wrk_lines = "\n".join(load["wrk_command"] for r in results for load in r["loads"].values())
    return f"""
## Choosing the ASGI server: Granian vs uvicorn

`townhall serve` runs Granian. This section is the measurement behind that choice: the same
Townhall served by each server in turn, on the thread read (its fast path) and on a request
that goes through Django.

- **Date**: {env["date"]}
- **Machine**: {m["cpu"]}, {m["cores"]} cores, {m["ram_gib"]} GiB RAM, {m["os"]}, \
kernel {m["kernel"]}
- **Software**: harness on Python {env["harness_python"]}; \
{", ".join(f"{r['name']} {r['version']}" for r in results)}

### Command

```sh
{env["command"]}
```

(`python bench/run.py --benchmark servers` reruns this section alone), which ran, per server
and URL (ports are chosen at random):

```sh
{wrk_lines}
```

### Method

{method_markdown(env, results)}

### Results

{report.table(HEADERS, table_rows(results), text_columns=2)}

Ratios are Granian divided by uvicorn: higher is better for requests/s, lower for latency.
{report.load_notes(labelled_loads(results))}
### Conclusion

{conclusion(results)}
"""
