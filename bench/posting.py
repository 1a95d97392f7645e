"""Benchmark: posting comments with the moderation pipeline on, Townhall vs Isso 0.14.

The target: Townhall accepts at least 3x the posts per second Isso does, at
the same concurrency, both on SQLite (their embedded default) with 2 worker
processes (`townhall serve --workers 2`; Isso under gunicorn, 2 sync workers).

Each server is started and seeded with the thread of the thread read
benchmark (bench/corpus.py, 200 comments, ids 1 to 200 in both) by its peer
module, then loaded by wrk with bench/posting.lua: every request posts a
different comment, prepared beforehand (`make_posts`, seed SEED), the same
texts, readers and reply targets for both servers:

- texts from the moderation benchmark's generator (bench/moderation_app.py
  `Writer`): sentences of common and news words, some with links (a few
  with more than 3), some with profanity, insults or a suspect word; none
  with a banned word, which Townhall refuses (400) by design and Isso would
  store, so that every answer but 201/202 is an error;
- 60% replies to one of the 200 comments, 40% top-level;
- each post from a reader of its own (X-Forwarded-For, believed from
  127.0.0.1 by both servers as behind a reverse proxy, bench/readers.py),
  with a name, and for 60% an e-mail address.

Townhall's site has a newsroom's rules (the moderation benchmark's ~200
banned and ~200 suspect words and phrases, max_links 3, toxicity threshold
0.9, no Akismet), so `run_pipeline` and its classifier run on every post;
`TOWNHALL_RATELIMIT=0` turns off the rate limits, and with them the
pipeline's new-commenter burst rule. Isso runs its guard with its own
defaults (bench/isso_peer.py POSTING_CONFIG_TEMPLATE): its rate limit and
rules query SQLite on every post and refuse none of these readers.

wrk rather than a Python client: on 2 cores the load generator shares the
CPU with the server, and wrk (C, LuaJIT) spends far less per request.

201 and 202 count as accepted; every other answer, and every socket error,
is an error and reported. After the load, the comments each server stored
are counted through its API and must match its 201s. Then, for Townhall,
bench/posting_app.py shows where a post's time goes (one process, timing
breakdown and cProfile). Run through `python bench/run.py --benchmark posting`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shlex
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import isso_peer
import moderation_app
import posting_probe
import report
import townhall_peer
import wrk
from memory import RssSampler
from notifications import source_state
from readers import reader_address
from report import TIMES
from support import (
    ARTICLE_ORIGIN,
    ARTICLE_PATH,
    ARTICLE_TITLE,
    ARTICLE_URL,
    BENCH_DIR,
    BUSY_WARNING,
    BenchError,
    RunningPeer,
    cpu_busy_share,
    group_cpu_ticks,
    http_json,
    wait_until_idle,
)

BENCH_KEY = "posting"
TARGET_RATIO = 3.0  # Townhall's accepted posts/s at least 3x Isso's
ACCEPTED = (201, 202)
LUA = BENCH_DIR / "posting.lua"
APP = BENCH_DIR / "posting_app.py"
SEED = 20250301
FIRST_READER = 1000  # readers 0-199 posted the corpus (bench/readers.py)
WARMUP_POSTS = 5000  # prepared for the warm-up; the measured posts come after
CORPUS_COMMENTS = 200  # ids 1..200 in both fresh databases
REPLY_SHARE = 0.6
EMAIL_SHARE = 0.6
PROFILE_POSTS = 300  # timed, then as many again under cProfile (bench/posting_app.py)
CLOCK_TICKS = 100  # /proc CPU times are in 1/100 s on Linux


@dataclass(frozen=True)
class Post:
    """One prepared comment: who sends it, its text, and the corpus comment it answers."""

    address: str
    text: str
    name: str
    email: str | None
    parent: int | None  # id of a corpus comment, the same in both servers


def site_rules() -> dict[str, Any]:
    """The moderation rules of Townhall's site: those of the moderation benchmark."""
    return {
        "banned_words": moderation_app.banned_words(),
        "suspect_words": moderation_app.suspect_words(),
        "max_links": moderation_app.MAX_LINKS,
        "toxicity_threshold": moderation_app.TOXICITY_THRESHOLD,
    }


def make_posts(count: int, first_reader: int, rng: random.Random) -> tuple[list[Post], Counter]:
    """`count` posts from readers first_reader, first_reader + 1, ...; and what their texts hold.

    Texts with a banned word are drawn again: Townhall refuses them by design.
    """
    writer = moderation_app.Writer(rng)
    kinds: Counter[str] = Counter()
    posts = []
    for n in range(count):
        while True:
            drawn: Counter[str] = Counter()
            text = writer.comment(drawn).strip()
            if not drawn["banned"]:
                break
        kinds.update(drawn)
        reader = first_reader + n
        replies = rng.random() < REPLY_SHARE
        posts.append(
            Post(
                address=reader_address(reader),
                text=text,
                name=f"Reader {reader}",
                email=f"reader-{reader}@mail.example.com" if rng.random() < EMAIL_SHARE else None,
                parent=rng.randint(1, CORPUS_COMMENTS) if replies else None,
            )
        )
    return posts, kinds


def townhall_body(post: Post) -> dict[str, Any]:
    """Townhall's `POST /api/v1/comments` body for a post."""
    body: dict[str, Any] = {
        "site": townhall_peer.SITE,
        "url": ARTICLE_URL,
        "title": ARTICLE_TITLE,
        "body": post.text,
        "author_name": post.name,
    }
    if post.email:
        body["author_email"] = post.email
    if post.parent:
        body["parent_id"] = post.parent
    return body


def isso_body(post: Post) -> dict[str, Any]:
    """Isso's `POST /new?uri=...` body for a post."""
    return {
        "text": post.text,
        "author": post.name,
        "email": post.email,
        "parent": post.parent,
        "title": ARTICLE_TITLE,
    }


def write_posts(path: Path, posts: list[Post], body: Callable[[Post], dict[str, Any]]) -> Path:
    """One line per post, as bench/posting.lua reads them: address, a tab, the JSON body."""
    lines = (f"{p.address}\t{json.dumps(body(p), separators=(',', ':'))}" for p in posts)
    path.write_text("\n".join(lines) + "\n")
    return path


# ---- the load -----------------------------------------------------------------------------


def wrk_command(url: str, posts: Path, args: argparse.Namespace, duration: int) -> list[str]:
    """The wrk command line for one load (also printed in the report, with the file's name)."""
    return [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{duration}s",
        "--timeout",
        f"{args.timeout}s",
        "--latency",
        "-s",
        str(LUA),
        url,
        "--",
        str(posts),
        str(args.threads),
        ARTICLE_ORIGIN,
    ]


def run_wrk(argv: list[str], duration: int) -> dict[str, Any]:
    """Run wrk once; its parsed output, the statuses the script counted, and wrk's CPU time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    output = wrk.run(argv, duration)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    found = re.search(r"^posting-statuses (.*)$", output, re.MULTILINE)
    if not found:
        raise BenchError(f"wrk's script printed no status counts:\n{output}")
    statuses = {
        int(k): int(v) for k, v in (pair.split("=") for pair in found.group(1).split(",") if pair)
    }
    unsent = re.search(r"^posting-unsent (\d+)$", output, re.MULTILINE)
    resent = re.search(r"^posting-resent (\d+)$", output, re.MULTILINE)
    seconds = re.search(r"requests in ([\d.]+)(ms|s|m)\b", output)
    return {
        "wrk": wrk.parse(output),
        "wrk_output": output,
        "statuses": statuses,
        "unsent": int(unsent.group(1)) if unsent else None,
        "resent": int(resent.group(1)) if resent else 0,
        "seconds": (
            float(seconds.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[seconds.group(2)]
            if seconds
            else float(duration)
        ),
        "wrk_cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
    }


def accepted(statuses: dict[int, int]) -> int:
    return sum(count for status, count in statuses.items() if status in ACCEPTED)


def load(
    peer: RunningPeer,
    url: str,
    files: dict[str, Path],
    args: argparse.Namespace,
    probes: Path | None = None,
) -> dict:
    """Warm up, let the server go idle, check the machine is quiet, then the measured load.

    Memory is sampled from the start of the warm-up to the end of the load. With `probes`
    (bench/posting_probe.py's folder), the write-lock times of the measured load are added.
    """
    pgid = peer.proc.pid
    with RssSampler(pgid) as sampler:
        warm = None
        if args.warmup:
            print(f"  warm-up {args.warmup}s ...", flush=True)
            warm = run_wrk(wrk_command(url, files["warmup"], args, args.warmup), args.warmup)
        wait_until_idle(pgid)
        background = cpu_busy_share(exclude_pgid=pgid)
        if background > BUSY_WARNING:
            print(f"  WARNING: the machine is {background:.0%} busy before the load", flush=True)
        argv = wrk_command(url, files["measured"], args, args.duration)
        print(f"  measuring: {shlex.join(argv)}", flush=True)
        before = probe_totals(probes)
        ticks = group_cpu_ticks(pgid)
        measured = run_wrk(argv, args.duration)
        server_cpu = (group_cpu_ticks(pgid) - ticks) / CLOCK_TICKS
        sampler.load_window(measured["seconds"])
        lock = probe_delta(before, probe_totals(probes)) if probes else None
    statuses = measured["statuses"]
    socket_errors = sum(measured["wrk"]["socket_errors"].values())
    errors = sum(c for s, c in statuses.items() if s not in ACCEPTED) + socket_errors
    if errors:
        print(f"  WARNING: {errors} errors (statuses {statuses}); see the raw wrk output")
    shown = shlex.join(argv).replace(str(files["measured"]), "POSTS_FILE")
    return {
        **measured,
        "wrk_command": shown.replace(str(LUA), "bench/posting.lua"),
        "warmup": warm,
        "accepted": accepted(statuses),
        "accepted_per_sec": accepted(statuses) / measured["seconds"],
        "errors": errors,
        "background_cpu_busy": round(background, 3),
        "server_cpu_share": server_cpu / measured["seconds"] / 2,  # of both cores
        "wrk_cpu_share": measured["wrk_cpu_s"] / measured["seconds"] / 2,
        "rss": sampler.summary(),
        **({"write_lock": lock} if lock else {}),
    }


def probe_totals(folder: Path | None) -> dict[str, Any]:
    """The probed workers' write-lock totals, once they have written them again."""
    if folder is None:
        return {}
    time.sleep(2 * posting_probe.WRITE_EVERY_S)
    return posting_probe.read_probes(folder)


def probe_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The write-lock totals of the measured load alone (the longest wait: of the whole run)."""
    delta = {
        key: after[key] - before.get(key, 0)
        for key in ("transactions", "wait_s", "hold_s", "hold_upper_s", "waits_over_1ms")
    }
    return {**delta, "longest_wait_s": after["longest_wait_s"], "processes": after["processes"]}


def stored_201s(result: dict[str, Any]) -> int:
    """201 answers of the warm-up and the load: the comments that should now be visible."""
    warm = result["warmup"]["statuses"].get(201, 0) if result["warmup"] else 0
    return warm + result["statuses"].get(201, 0)


def check_stored(name: str, shown: int | None, result: dict, args: argparse.Namespace) -> None:
    """Fail unless the server shows the seeded comments plus those it answered 201 to.

    wrk stops at the end of its time with a request in flight on each connection, which the
    server still stores but wrk never counts: up to that many more (per wrk run) may show.
    """
    expected = CORPUS_COMMENTS + stored_201s(result)
    in_flight = args.connections * (2 if result["warmup"] else 1)
    if shown is None or not expected <= shown <= expected + in_flight:
        raise BenchError(
            f"{name} shows {shown} comments after the load, expected {expected} "
            f"(up to {in_flight} more, answered after wrk stopped)"
        )
    result["stored_after_wrk"] = shown - expected


# ---- the two servers --------------------------------------------------------------------------


def comment_ids(nodes: list[dict[str, Any]]) -> set[int]:
    """Ids of every comment in a nested list (Townhall's and Isso's `replies` alike)."""
    found: set[int] = set()
    for node in nodes:
        found.add(int(node["id"]))
        found |= comment_ids(node.get("replies") or [])
    return found


def check_targets(name: str, ids: set[int]) -> None:
    """The posts reply to comments 1..200: fail unless the server holds them under those ids."""
    missing = set(range(1, CORPUS_COMMENTS + 1)) - ids
    if missing:
        raise BenchError(f"{name} has no comment with id(s) {sorted(missing)[:10]} to reply to")


@dataclass
class App:
    """bench/posting_app.py in the project's Python, with the served Townhall's environment."""

    python: Path
    env: dict[str, str]
    workdir: Path

    def __call__(self, *argv: str) -> dict[str, Any]:
        result = subprocess.run(
            [str(self.python), "-P", str(APP), *argv],
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if result.returncode != 0 or not result.stdout.strip():
            tail = "\n".join((result.stderr or result.stdout).splitlines()[-20:])
            raise BenchError(f"`posting_app.py {argv[0]}` failed ({result.returncode}):\n{tail}")
        return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def townhall_run(args: argparse.Namespace, files: dict[str, Path]) -> dict[str, Any]:
    """Townhall: start and seed, set the site's rules, load, count what it stored, profile."""
    with townhall_peer.running_townhall() as peer:
        workdir = peer.log_path.parent
        app = App(townhall_peer.townhall_bin().parent / "python", server_env(workdir), workdir)
        (workdir / "rules.json").write_text(json.dumps(site_rules()))
        rules = app("rules", str(workdir / "rules.json"))
        _status, page, _raw = http_json("GET", peer.read_url)
        check_targets("Townhall", comment_ids(page.get("comments") or []))
        result = load(peer, f"{peer.base_url}/api/v1/comments", files, args)
        wait_until_idle(peer.proc.pid)  # the posts wrk left in flight are stored
        status, page, _raw = http_json("GET", peer.read_url)
        visible = (page or {}).get("thread", {}).get("comment_count") if status == 200 else None
        outcomes = app("outcomes", str(CORPUS_COMMENTS + 1))
        print(f"  where a post's time goes: {PROFILE_POSTS} posts in one process ...", flush=True)
        profile = app("profile", str(files["profile"]), str(PROFILE_POSTS))
    check_stored("Townhall", visible, result, args)
    return {
        **describe(peer),
        **result,
        "rules": rules,
        "stored_visible": visible,
        "outcomes": outcomes,
        "profile": profile,
    }


def townhall_probe_run(
    args: argparse.Namespace, files: dict[str, Path], folder: Path
) -> dict[str, Any]:
    """Townhall again, from a fresh database, under bench/posting_probe.py: the same load with
    SQLite's write lock timed (waiting for it, holding it)."""
    folder.mkdir(parents=True, exist_ok=True)
    python = townhall_peer.townhall_bin().parent / "python"
    command = [str(python), "-P", str(BENCH_DIR / "posting_probe.py")]
    command += ["--workers", str(townhall_peer.WORKERS)]
    extra = {posting_probe.PROBE_DIR_ENV: str(folder)}
    with townhall_peer.running_townhall(command=command, extra_env=extra) as peer:
        workdir = peer.log_path.parent
        app = App(python, server_env(workdir), workdir)
        (workdir / "rules.json").write_text(json.dumps(site_rules()))
        app("rules", str(workdir / "rules.json"))
        result = load(peer, f"{peer.base_url}/api/v1/comments", files, args, probes=folder)
    lock = result["write_lock"]
    print(
        f"  {result['accepted_per_sec']:,.0f} accepted posts/s; write lock held at least "
        f"{lock['hold_s'] / result['seconds']:.0%} of the time, "
        f"{lock['wait_s'] / max(result['accepted'], 1) * 1000:.1f} ms waited per post",
        flush=True,
    )
    return {
        "accepted_per_sec": result["accepted_per_sec"],
        "accepted": result["accepted"],
        "errors": result["errors"],
        "seconds": result["seconds"],
        "wrk": result["wrk"],
        "server_cpu_share": result["server_cpu_share"],
        "background_cpu_busy": result["background_cpu_busy"],
        "write_lock": lock,
    }


def server_env(workdir: Path) -> dict[str, str]:
    """The environment the peer serves Townhall with (bench/townhall_peer.py)."""
    return townhall_peer.server_env(workdir)


def isso_run(args: argparse.Namespace, files: dict[str, Path]) -> dict[str, Any]:
    """Isso: start and seed with its guard on, load, count what it stored."""
    with isso_peer.running_isso(template=isso_peer.POSTING_CONFIG_TEMPLATE) as peer:
        _status, thread, _raw = http_json("GET", peer.read_url)
        check_targets("Isso", comment_ids((thread or {}).get("replies") or []))
        url = f"{peer.base_url}/new?uri={ARTICLE_PATH}"
        result = load(peer, url, files, args)
        wait_until_idle(peer.proc.pid)
        status, counts, _raw = http_json("POST", f"{peer.base_url}/count", [ARTICLE_PATH])
    stored = counts[0] if status == 200 and isinstance(counts, list) else None
    check_stored("Isso", stored, result, args)
    return {**describe(peer), **result, "stored_visible": stored}


def describe(peer: RunningPeer) -> dict[str, Any]:
    return {
        "name": peer.name,
        "version": peer.version,
        "python": peer.python,
        "serving": peer.serving,
    }


SERVERS: dict[str, Callable[[argparse.Namespace, dict[str, Path]], dict[str, Any]]] = {
    "Townhall": townhall_run,
    "Isso": isso_run,
}


@dataclass
class Prepared:
    """The posts of a run, written once per server's request format."""

    folder: Path
    kinds: dict[str, int]
    warmup: int
    measured: int

    def files(self, server: str) -> dict[str, Path]:
        return {
            key: self.folder / f"{server.lower()}-{key}.txt"
            for key in ("warmup", "measured", "profile")
        }


def prepare_posts(folder: Path, args: argparse.Namespace) -> Prepared:
    """Every post of the run, the same for both servers; Townhall's profile posts after them."""
    rng = random.Random(SEED)
    warm, kinds = make_posts(WARMUP_POSTS, FIRST_READER, rng)
    measured, more = make_posts(args.posts, FIRST_READER + WARMUP_POSTS, rng)
    kinds.update(more)
    after = FIRST_READER + WARMUP_POSTS + args.posts
    profile, _ = make_posts(posting_app_posts(), after, rng)
    prepared = Prepared(folder, dict(kinds), len(warm), len(measured))
    for server, body in (("Townhall", townhall_body), ("Isso", isso_body)):
        files = prepared.files(server)
        write_posts(files["warmup"], warm, body)
        write_posts(files["measured"], measured, body)
        write_posts(files["profile"], profile, body)
    return prepared


def posting_app_posts() -> int:
    """Posts bench/posting_app.py `profile` needs: 50 unmeasured, then two rounds."""
    return 50 + 2 * PROFILE_POSTS


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    """Prepare the posts, then each server in turn (stopped before the next starts)."""
    started = time.monotonic()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-posting-") as tmp:
        prepared = prepare_posts(Path(tmp), args)
        for name, run in SERVERS.items():
            print(f"{name}: starting, seeding {CORPUS_COMMENTS} comments ...", flush=True)
            results.append(run(args, prepared.files(name)))
            print(f"  {results[-1]['accepted_per_sec']:,.0f} accepted posts/s", flush=True)
        print("Townhall again, its SQLite write lock timed (bench/posting_probe.py) ...")
        probe = townhall_probe_run(args, prepared.files("Townhall"), Path(tmp) / "probes")
    return {
        "seconds": round(time.monotonic() - started),
        "source": source_state(),
        "posts": {"warmup": prepared.warmup, "measured": prepared.measured, **prepared.kinds},
        "ratio": ratio(results),
        "results": results,
        "probe": probe,
    }


# ---- the report -------------------------------------------------------------------------------


def ratio(results: list[dict[str, Any]]) -> float | None:
    """Townhall's accepted posts/s over Isso's, or None if one of them is missing."""
    rate = {r["name"]: r["accepted_per_sec"] for r in results}
    if "Townhall" in rate and rate.get("Isso"):
        return float(rate["Townhall"] / rate["Isso"])
    return None


HEADERS = [
    "Server",
    "Accepted posts/s",
    "201",
    "202",
    "Errors",
    "p50 (ms)",
    "p99 (ms)",
    "Server CPU",
    "wrk CPU",
]


def _columns(r: dict[str, Any]) -> list[float]:
    s = r["wrk"]
    return [r["accepted_per_sec"], s["latency_p50_ms"], s["latency_p99_ms"]]


def table_rows(results: list[dict[str, Any]]) -> list[list[str]]:
    """One row per server, then Townhall / Isso."""
    rows = []
    for r in results:
        rate, p50, p99 = _columns(r)
        rows.append(
            [
                f"{r['name']} {r['version']}",
                report.number(rate),
                f"{r['statuses'].get(201, 0):,}",
                f"{r['statuses'].get(202, 0):,}",
                f"{r['errors']:,}",
                report.number(p50),
                report.number(p99),
                f"{r['server_cpu_share']:.0%}",
                f"{r['wrk_cpu_share']:.0%}",
            ]
        )
    by_name = {r["name"]: r for r in results}
    if {"Townhall", "Isso"} <= by_name.keys():
        pairs = zip(_columns(by_name["Townhall"]), _columns(by_name["Isso"]), strict=True)
        shown = [report.ratio(t / i) if i else "n/a" for t, i in pairs]
        rows.append(["Townhall / Isso", shown[0], "", "", "", shown[1], shown[2], "", ""])
    return rows


def breakdown_rows(profile: dict[str, Any], markdown: bool = True) -> list[list[str]]:
    """The timed parts of a post, nested by indentation, then SQLite's share."""
    indent = "&nbsp;&nbsp;&nbsp;&nbsp;" if markdown else "  "
    rows = []
    for part in profile["breakdown"]:
        label = part["part"].replace("sql_execute", "SQLite executing the statements (all)")
        if part["depth"] and markdown:
            label = f"`{label.split(' ', 1)[0]}`" + (
                f" {label.split(' ', 1)[1]}" if " " in label else ""
            )
        calls = f"{part['calls']:.1f}"
        rows.append([indent * part["depth"] + label, calls, f"{part['us']:,.0f}"])
    return rows


def part_us(profile: dict[str, Any], name: str) -> float:
    """Mean µs per post of one timed part (0 if it was not timed)."""
    return next((p["us"] for p in profile["breakdown"] if p["part"] == name), 0.0)


def statement_rows(profile: dict[str, Any], limit: int = 8) -> list[list[str]]:
    return [
        [f"`{s['kind']}`", f"{s['per_post']:.2f}", f"{s['execute_us']:,.0f}"]
        for s in profile["statements"][:limit]
    ]


def function_rows(profile: dict[str, Any], limit: int = 15) -> list[list[str]]:
    """The functions with the most time of their own under cProfile."""
    return [
        [
            f"`{f['function']}`",
            f"{f['calls_per_post']:.1f}",
            f"{f['own_us']:,.0f}",
            f"{f['cumulative_us']:,.0f}",
        ]
        for f in profile["by_own_time"][:limit]
    ]


def python_share(profile: dict[str, Any]) -> str:
    """How much of a post is SQLite itself, and how much Python around it."""
    request, sql = part_us(profile, "request"), part_us(profile, "sql_execute")
    statements = next(p["calls"] for p in profile["breakdown"] if p["part"] == "sql_execute")
    return (
        f"SQLite itself executes the {statements:.1f} statements of a post in {sql:,.0f} µs, "
        f"{sql / request:.0%} of the request; the other {1 - sql / request:.0%} is Python: "
        "Django building each query and model instance, django-ninja, Markdown, the pipeline's "
        "word lists and classifier, the commit hooks."
    )


def capacity(results: list[dict[str, Any]]) -> str:
    """Townhall's posts/s under load beside what one process does alone, and where time goes."""
    townhall = next((r for r in results if r["name"] == "Townhall"), None)
    if townhall is None:
        return ""
    p = townhall["profile"]
    request = part_us(p, "request")
    alone = 1e6 / request
    return (
        f"One process, one request at a time, takes {request:,.0f} µs "
        f"per post ({alone:,.0f} posts/s on one core, {p['cpu_share']:.0%} of it on the CPU); "
        f"under the load, the 2 workers accepted {townhall['accepted_per_sec']:,.0f} posts/s with "
        f"the server's processes using {townhall['server_cpu_share']:.0%} of both cores and wrk "
        f"{townhall['wrk_cpu_share']:.0%}."
    )


def verdict(measured: dict[str, Any], markdown: bool = True) -> str:
    factor = measured["ratio"]
    if factor is None:
        return "Target: needs both Townhall and Isso in the run."
    met = factor >= TARGET_RATIO
    word = "met" if met else "not met"
    shown = f"**{word}**" if markdown else word.upper()
    return (
        f"Townhall accepts at least {TARGET_RATIO:.0f}{TIMES} Isso's posts/s: {shown} "
        f"({factor:.2f}{TIMES})."
    )


def print_results(measured: dict[str, Any]) -> None:
    results = measured["results"]
    print()
    print(report.text_table(HEADERS, table_rows(results)))
    townhall = next((r for r in results if r["name"] == "Townhall"), None)
    if townhall:
        print()
        rows = breakdown_rows(townhall["profile"], markdown=False)
        print(report.text_table(["Per post, one process", "Calls", "µs"], rows))
        print(capacity(results))
    print()
    print(verdict(measured, markdown=False))


def method_markdown(env: dict[str, Any], measured: dict[str, Any]) -> str:
    results, posts = measured["results"], measured["posts"]
    opts = env["options"]
    by_name = {r["name"]: r for r in results}
    lines = [
        f"- **Before the load**: each server is started and seeded through its API with the "
        f"thread of the thread read benchmark (`bench/corpus.py`, {CORPUS_COMMENTS} comments, "
        "ids 1-200 in both), by the same peer modules.",
        f"- **Posts**: prepared before the load with seed {SEED}, the same for both servers "
        f"(`bench/posting.py`): {posts['measured']:,} for the measured load and "
        f"{posts['warmup']:,} for the warm-up, each posted at most once; texts from the "
        "moderation benchmark's generator (`bench/moderation_app.py` `Writer`): "
        f"{posts.get('link', 0):,} with a link, {posts.get('many_links', 0):,} with more than "
        f"3, {posts.get('profane', 0):,} with profanity, {posts.get('insult', 0):,} short "
        f"insults, {posts.get('suspect', 0):,} with a suspect word or phrase, none with a "
        "banned one (Townhall refuses those with a 400 by design). 60% reply to one of the 200 "
        "comments, 40% are top-level; each comes from a reader of its own, named in "
        "`X-Forwarded-For`, which both servers believe from 127.0.0.1 as behind a reverse "
        "proxy (`bench/readers.py`), with a name and, for 60%, an e-mail address.",
    ]
    if "Townhall" in by_name:
        t = by_name["Townhall"]
        r = t["rules"]
        o = t["outcomes"]
        rules = ", ".join(f"{k} {v:,}" for k, v in sorted(o["rules"].items(), key=lambda i: -i[1]))
        statuses = ", ".join(f"{k} {v:,}" for k, v in o["statuses"].items())
        lines.append(
            f"- **Townhall {t['version']}** (Python {t['python']}): `POST /api/v1/comments`; "
            f"served by {t['serving']}. The site's rules: {r['banned_words']} banned and "
            f"{r['suspect_words']} suspect words and phrases (the moderation benchmark's), "
            f"max_links {r['max_links']}, toxicity threshold {r['toxicity_threshold']}, "
            f"moderation mode `{r['moderation_mode']}`, no Akismet key (a network service). "
            "So on every post `run_pipeline` runs (bans, both word lists, links, the same text "
            "again, the offline classifier) before the write transaction. "
            "`TOWNHALL_RATELIMIT=0`: the rate limits are off for the load, and with them the "
            "pipeline's new-commenter burst rule. The toxicity table was compiled before the "
            f"load (while seeding); each worker loads it on its first post. After the load, "
            f"{o['comments']:,} comments: {statuses}; "
            f"rules that fired: {rules or 'none'}; {o['scored']:,} scored by the classifier."
        )
    if "Isso" in by_name:
        i = by_name["Isso"]
        lines.append(
            f"- **Isso {i['version']}** (Python {i['python']}): `POST /new?uri=/article` with "
            f"`Content-Type: application/json` (its CSRF check); served by {i['serving']}. "
            "Config (`bench/isso_peer.py` `POSTING_CONFIG_TEMPLATE`): `[guard] enabled = true` "
            "with Isso's defaults (ratelimit 2 per minute per address, direct-reply 3 per "
            "thread, reply-to-self false, require-author and require-email false), its "
            "SQL checks running on every post and refusing none of these readers; "
            "`[server] trusted-proxies = 127.0.0.1`, so that the guard sees each reader; "
            "`[moderation] enabled = false` (Isso's moderation is a queue for every comment, "
            "Townhall's site publishes at once); `notify = stdout`. Its `host` is the "
            "article's origin; Isso checks no `Origin` or `Referer` on a post (CORS only), "
            "and with a `title` in the body it does not fetch the article."
        )
    lines += [
        "- **SQLite**: each server's embedded default: Townhall WAL, `synchronous=NORMAL`, "
        "`BEGIN IMMEDIATE` with a 20 s busy timeout, one connection per thread (8 threads per "
        "worker), writers queued by `townhall.core.sqlite` (a thread lock, then an `flock` "
        "beside the database file, so the next writer wakes as the last one commits); Isso a "
        "new connection per statement, rollback journal, `synchronous=FULL`.",
        f"- **Load**: wrk {env['wrk_version']} with `bench/posting.lua`, {opts['threads']} "
        f"threads, {opts['connections']} connections, {opts['duration']} s after a "
        f"{opts['warmup']} s warm-up (its own posts), `--timeout {opts['timeout']}s`, on "
        "127.0.0.1; at most as many posts as prepared. wrk rather than a Python client: it "
        "shares the 2 cores with the server and spends far less CPU per request. The servers "
        "run one after the other. **Accepted** = 201 or 202; any other status, and any socket "
        "error, is an error. After each load the stored comments are counted through the "
        "server's API (Townhall's thread `comment_count`, Isso's `POST /count`) and must equal "
        "its 201s plus the 200 seeded, plus at most one post per connection that was in flight "
        "when wrk stopped (stored, never counted by wrk): "
        + ", ".join(f"{r['name']} {r['stored_after_wrk']} such" for r in results)
        + ". Prepared posts left unsent when the time was up: "
        + ", ".join(f"{r['name']} {r['unsent']:,}" for r in results)
        + (
            "; none was sent twice."
            if not any(r["resent"] for r in results)
            else "; some threads ran out of posts and sent their last one again "
            + ", ".join(f"({r['name']} {r['resent']})" for r in results)
            + "."
        ),
        "- **CPU**: the server's processes' CPU time (from `/proc`) and wrk's, over the load's "
        "wall time, as a share of both cores.",
        "- **Background load**: CPU share busy with other work in the second before each "
        "measurement (server idle): "
        + ", ".join(f"{r['name']} {r['background_cpu_busy']:.0%}" for r in results)
        + ".",
    ]
    return "\n".join(lines)


def profile_markdown(results: list[dict[str, Any]]) -> str:
    townhall = next((r for r in results if r["name"] == "Townhall"), None)
    if townhall is None:
        return ""
    p = townhall["profile"]
    return f"""
### Where a Townhall post's time goes

After the load, `bench/posting_app.py profile` posts {p["posts"]} more comments (from new
readers, the same generator) through Django's WSGI application, the handler `townhall serve`
hands these requests to, in one process and one thread, after 50 unmeasured; each part timed
by wrapping it; then {p["posts"]} more under cProfile. Mean per post:

{report.table(["Part", "Calls per post", "µs per post"], breakdown_rows(p))}

SQLite's statements by kind (execution time, from Django's `execute_wrapper`):

{report.table(["Statement", "Per post", "µs per post"], statement_rows(p))}

{python_share(p)}

cProfile, the functions with the most time of their own (µs per post; cProfile's own overhead
included, so about twice the times above):

{report.table(["Function", "Calls per post", "Own (µs)", "Cumulative (µs)"], function_rows(p))}

{capacity(results)}
"""


# The parts of a post timed by bench/posting_app.py that run inside the write transaction,
# i.e. while this connection holds SQLite's one write lock (BEGIN IMMEDIATE ... COMMIT).
IN_TRANSACTION = (
    "_get_or_create_thread",
    "_check_still_open",
    "do_create_guest",
    "insert (the comment)",
    "bump_thread",
    "commit",
)


def lock_figures(measured: dict[str, Any]) -> dict[str, float] | None:
    """The probe run's write-lock figures per accepted post, and the lock's busy share."""
    probe = measured.get("probe")
    if not probe:
        return None
    lock, posts = probe["write_lock"], max(probe["accepted"], 1)
    return {
        "posts_per_sec": probe["accepted_per_sec"],
        "held_share": lock["hold_s"] / probe["seconds"],
        "held_upper_share": lock["hold_upper_s"] / probe["seconds"],
        "held_ms": lock["hold_s"] / posts * 1000,
        "wait_ms": lock["wait_s"] / posts * 1000,
        "transactions": lock["transactions"] / posts,
        "slow_waits": lock["waits_over_1ms"] / max(lock["transactions"], 1),
        "longest_ms": lock["longest_wait_s"] * 1000,
        "latency_p50_ms": probe["wrk"]["latency_p50_ms"],
    }


def limits_markdown(measured: dict[str, Any]) -> str:
    """What holds Townhall's posts/s down, from the profile and the probe run's lock timings."""
    townhall = next((r for r in measured["results"] if r["name"] == "Townhall"), None)
    lock = lock_figures(measured)
    if townhall is None or lock is None:
        return ""
    p = townhall["profile"]
    request = part_us(p, "request")
    inside = sum(part_us(p, name) for name in IN_TRANSACTION)
    threads = int(os.environ.get("TOWNHALL_THREADS") or 8)  # the servers' environment
    ceiling = 1e6 / inside if inside else float("inf")
    return f"""
### What limits Townhall here

- **CPU per post**: {request:,.0f} µs in one process, one request at a time (above), so \
the two workers could do at most about {2e6 / request:,.0f} posts/s with both cores to \
themselves (they share them with wrk); under the load they used \
{townhall["server_cpu_share"]:.0%} of both cores: they were waiting, not computing, much of \
the time.
- **SQLite's one writer**: Townhall served again with `bench/posting_probe.py` (the same \
application under Granian with the same options, two timers around Django's SQLite backend) \
and loaded the same way accepted {lock["posts_per_sec"]:,.0f} posts/s; the write lock was held \
at least {lock["held_share"]:.0%} of the load's time (from `BEGIN IMMEDIATE`'s return to the \
call of `COMMIT`; {lock["held_upper_share"]:.0%} to its return, when the queue lets the \
next writer in), {lock["held_ms"]:.2f} ms per accepted post ({lock["transactions"]:.1f} write \
transactions per post, the comment's; a task is queued after the commit only for a held \
comment, a moderator alert, or when the thread has confirmed subscribers, and that `INSERT` \
queues for the lock too, untimed here). Each post waited {lock["wait_ms"]:.1f} ms on average \
for its turn (Townhall's write queue, `townhall.core.sqlite`, then `BEGIN IMMEDIATE`; p50 \
latency {lock["latency_p50_ms"]:.0f} ms); {lock["slow_waits"]:.0%} of the waits took over \
1 ms, the longest {lock["longest_ms"]:,.0f} ms. Writers no longer sleep in SQLite's busy \
handler: the next one is woken as the last commits, so the waits are the queue itself, one \
writer after another.
- Alone, the work done inside the write transaction (the thread and parent checked again in \
one statement, the guest commenter, the comment, `bump_thread` with its live event, the \
commit) takes {inside:,.0f} µs \
per post, a ceiling of {ceiling:,.0f} posts/s for one writer at a time; under the load the lock \
is held {lock["held_ms"] * 1000 / inside if inside else 0:.1f}{TIMES} as long, since the \
thread holding it shares its process's GIL with the {threads - 1} other request threads \
(a2wsgi, `TOWNHALL_THREADS={threads}`) and with the event loop.
"""


def section_markdown(env: dict[str, Any], measured: dict[str, Any]) -> str:
    """The whole docs/benchmarks.md section for this benchmark."""
    m, results = env["machine"], measured["results"]
    wrk_lines = "\n".join(r["wrk_command"] for r in results)
    software = ", ".join(f"{r['name']} {r['version']} on Python {r['python']}" for r in results)
    src = measured["source"]
    changes = (
        f" (commit {src['commit']} plus uncommitted changes to "
        f"{', '.join(src['townhall_changes'])})"
        if src["townhall_changes"]
        else f" (commit {src['commit']})"
    )
    return f"""
## Posting comments, moderation pipeline on: Townhall vs Isso 0.14

- **Date**: {env["date"]}
- **Machine**: {m["cpu"]}, {m["cores"]} cores, {m["ram_gib"]} GiB RAM, {m["os"]}, \
kernel {m["kernel"]}
- **Software**: harness on Python {env["harness_python"]}; {software}; Townhall{changes}

### Command

```sh
{env["command"]}
```

(`python bench/run.py --benchmark posting` reruns this section alone; it took \
{measured["seconds"]} s), which ran, per server (ports are chosen at random; POSTS_FILE is the
prepared posts in each server's format):

```sh
{wrk_lines}
```

### Method

{method_markdown(env, measured)}

### Results

{report.table(HEADERS, table_rows(results))}

Ratios are Townhall divided by Isso: higher is better for posts/s, lower for latency.
{report.load_notes([(r["name"], r) for r in results])}
{profile_markdown(results)}
{limits_markdown(measured)}
### Target

{verdict(measured)}
"""
