"""Importing a Disqus export: Townhall's `townhall import` vs Isso 0.14's `isso import`.

A deterministic Disqus XML export is generated (`disqus_export`): threads on the bench
article's origin, posts in the order Disqus writes them (by time, threads interleaved), about
45% of them replies to an earlier post of the same thread, 1% deleted and 0.5% spam (which
both importers must leave out), HTML messages of one to three paragraphs with links and
emphasis, authors from a pool (a third anonymous). Each importer runs as a process of its own
on a fresh SQLite database; its wall time and its peak resident size (the kernel's `ru_maxrss`
of that process, from `wait4`) are taken, and the comments it wrote are counted in its
database afterwards.

Side by side, the same 100,000-comment file through both; then the issue's target, the
1,000,000-comment file through Townhall (under 10 minutes and 300 MB). Isso reads the whole
file into an ElementTree before writing, so it is not given the million. Then the 100,000 file
through Townhall again: importing a file twice must create nothing new.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import isso_peer
import report
import townhall_peer
from support import ARTICLE_ORIGIN, BenchError, cpu_busy_share, group_memory, source_state

BENCH_KEY = "import"
SEED = 20261206
SIDE_BY_SIDE = 100_000  # comments in the file both importers read
TARGET_COMMENTS = 1_000_000  # the file, Townhall only
TARGET_SECONDS = 600.0
TARGET_MB = 300.0  # megabytes of 10^6 bytes, as the issue writes
COMMENTS_PER_THREAD = 100
REPLY_SHARE = 0.45
DELETED_SHARE = 0.01
SPAM_SHARE = 0.005
AUTHORS = 20_000
RUN_TIMEOUT_S = 1_800.0  # an importer still running after this fails the run

VOCABULARY = (
    "the council vote budget school road river market report minister village election "
    "reader story question answer article week year city people water energy price rent "
    "bridge museum hospital train station library mayor plan decision protest court law "
    "because although however still never always maybe certainly really exactly quite"
)
WORDS = VOCABULARY.split()
LINKS = ("https://example.org/report", "https://news.example/2026/01/budget", "https://w.example/a")


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(6, 16))]
    text = " ".join(words).capitalize()
    if rng.random() < 0.15:
        text += f' <a href="{rng.choice(LINKS)}" rel="nofollow noopener">source</a>'
    if rng.random() < 0.15:
        text = text.replace(words[1], f"<b>{words[1]}</b>", 1)
    return text + "."


def _message(rng: random.Random) -> str:
    paragraphs = [
        " ".join(_sentence(rng) for _ in range(rng.randint(1, 3))) for _ in range(rng.randint(1, 3))
    ]
    return "".join(f"<p>{p}</p>" for p in paragraphs)


def disqus_export(path: Path, comments: int, seed: int = SEED) -> dict[str, int]:
    """Write a Disqus export with ``comments`` posts to ``path``; what it holds, by kind."""
    rng = random.Random(seed)
    threads = max(1, comments // COMMENTS_PER_THREAD)
    recent: list[list[int]] = [[] for _ in range(threads)]  # a thread's last posts, to reply to
    when = datetime(2015, 1, 1, tzinfo=UTC)
    counts = {"threads": threads, "posts": comments, "deleted": 0, "spam": 0, "replies": 0}
    with path.open("w", encoding="utf-8") as out:
        out.write(
            '<?xml version="1.0" encoding="utf-8"?>\n'
            '<disqus xmlns="http://disqus.com" '
            'xmlns:dsq="http://disqus.com/disqus-internals" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
            '<category dsq:id="1"><forum>bench</forum><title>General</title>'
            "<isDefault>true</isDefault></category>\n"
        )
        for number in range(threads):
            out.write(
                f'<thread dsq:id="{100_000_000 + number}"><id/><forum>bench</forum>'
                f'<category dsq:id="1"/><link>{ARTICLE_ORIGIN}/articles/{number}/</link>'
                f"<title>Article {number}</title><message/>"
                "<createdAt>2015-01-01T00:00:00Z</createdAt>"
                "<author><name>Newsroom</name><isAnonymous>false</isAnonymous></author>"
                "<isClosed>false</isClosed><isDeleted>false</isDeleted></thread>\n"
            )
        for number in range(comments):
            post_id = 200_000_000 + number
            thread = rng.randrange(threads)
            when += timedelta(seconds=rng.randint(1, 90))
            parent = ""
            if recent[thread] and rng.random() < REPLY_SHARE:
                parent = f'<parent dsq:id="{rng.choice(recent[thread])}"/>'
                counts["replies"] += 1
            recent[thread] = [*recent[thread][-19:], post_id]
            roll = rng.random()
            deleted = roll < DELETED_SHARE
            spam = DELETED_SHARE <= roll < DELETED_SHARE + SPAM_SHARE
            counts["deleted"] += deleted
            counts["spam"] += spam
            author = rng.randrange(AUTHORS)
            if author % 3 == 0:
                who = f"<author><name>Guest {author}</name><isAnonymous>true</isAnonymous></author>"
            else:
                who = (
                    f"<author><email>reader{author}@example.org</email>"
                    f"<name>Reader {author}</name><isAnonymous>false</isAnonymous>"
                    f"<username>reader{author}</username></author>"
                )
            out.write(
                f'<post dsq:id="{post_id}"><id/>'
                f"<message><![CDATA[{_message(rng)}]]></message>"
                f"<createdAt>{when:%Y-%m-%dT%H:%M:%SZ}</createdAt>"
                f"<isDeleted>{str(deleted).lower()}</isDeleted>"
                f"<isSpam>{str(spam).lower()}</isSpam>{who}"
                f"<ipAddress>127.0.0.1</ipAddress>"
                f'<thread dsq:id="{100_000_000 + thread}"/>{parent}</post>\n'
            )
        out.write("</disqus>\n")
    counts["kept"] = comments - counts["deleted"] - counts["spam"]
    counts["kept_by_isso"] = comments - counts["deleted"]
    counts["bytes"] = path.stat().st_size
    return counts


def timed_process(argv: list[str], env: dict[str, str], log: Path) -> dict[str, Any]:
    """Run ``argv`` to completion in a process group of its own: wall seconds, CPU seconds,
    and memory: the peak of the group's summed resident size (every process it started, e.g.
    Townhall's rendering workers, counted; shared pages once per process), the peak of its
    summed proportional size (shared pages split), both sampled every 0.2 s, and the main
    process's own peak (``ru_maxrss``)."""
    began = time.monotonic()
    peak = {"rss_kib": 0, "pss_kib": 0, "processes": 0}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = began + RUN_TIMEOUT_S
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise BenchError(f"{argv[0]} ran over {RUN_TIMEOUT_S:.0f} s; see {log}")
            sample = group_memory(proc.pid)
            peak = {key: max(peak[key], sample[key]) for key in peak}
            time.sleep(0.2)
    seconds = time.monotonic() - began
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:]
        raise BenchError(f"{' '.join(argv)} exited with {proc.returncode}:\n{tail}")
    return {
        "seconds": seconds,
        "peak_mib": peak["rss_kib"] / 1024,
        "peak_pss_mib": peak["pss_kib"] / 1024,
        "processes": peak["processes"],
        "main_peak_mib": usage.ru_maxrss / 1024,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "output": log.read_text(errors="replace")[-4000:],
    }


def count_rows(database: Path, sql: str) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        return int(db.execute(sql).fetchone()[0])


@contextmanager
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="townhall-import-bench-") as name:
        yield Path(name)


def townhall_import(export: Path, work: Path, label: str) -> dict[str, Any]:
    """A fresh Townhall database (the `bench` site on the article's origin), then the import."""
    townhall = townhall_peer.townhall_bin()
    env = townhall_peer.server_env(work)
    townhall_peer.prepare(townhall, env, work)
    argv = [str(townhall), "import", "--site", townhall_peer.SITE, "--format", "disqus"]
    argv += ["--no-progress", str(export)]
    run = timed_process(argv, env, work / f"{label}.log")
    run["argv"] = ["townhall", *argv[1:-1], export.name]
    database = work / "db.sqlite3"
    run["comments"] = count_rows(database, "SELECT COUNT(*) FROM townhall_discussions_comment")
    run["threads"] = count_rows(database, "SELECT COUNT(*) FROM townhall_discussions_thread")
    return run


def townhall_again(export: Path, work: Path) -> dict[str, Any]:
    """The same file into the same database again: nothing new may be written."""
    townhall = townhall_peer.townhall_bin()
    env = townhall_peer.server_env(work)
    argv = [str(townhall), "import", "--site", townhall_peer.SITE, "--format", "disqus"]
    argv += ["--no-progress", str(export)]
    run = timed_process(argv, env, work / "again.log")
    database = work / "db.sqlite3"
    run["comments"] = count_rows(database, "SELECT COUNT(*) FROM townhall_discussions_comment")
    return run


def isso_import(export: Path, work: Path) -> dict[str, Any]:
    """Isso 0.14's own Disqus importer into a fresh Isso database."""
    versions = isso_peer.ensure_venv()
    config = isso_peer.write_config(work)
    isso = isso_peer.VENV_DIR / "bin" / "isso"
    # --empty-id: Isso 0.14 skips every thread of the file without it (it tests the <id>
    # element's truth, which is False for an element without children, whatever its text).
    argv = [str(isso), "-c", str(config), "import", "--empty-id", "-t", "disqus", str(export)]
    run = timed_process(argv, {**os.environ}, work / "isso.log")
    run["argv"] = ["isso", "-c", "isso.cfg", "import", "--empty-id", "-t", "disqus", export.name]
    run["version"] = versions["isso"]
    database = work / "comments.db"
    # Mode 1: shown; Isso keeps a deleted comment that has replies as a mode-4 placeholder.
    run["comments"] = count_rows(database, "SELECT COUNT(*) FROM comments WHERE mode = 1")
    run["threads"] = count_rows(database, "SELECT COUNT(*) FROM threads")
    return run


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    """Generate both files, run the importers one at a time, check what they wrote."""
    measured: dict[str, Any] = {
        "background_cpu_busy": cpu_busy_share(),
        "source": source_state(),
    }
    with workdir() as files:
        side_by_side = min(SIDE_BY_SIDE, args.import_comments)  # a smaller run: both smaller
        small = files / f"disqus-{side_by_side}.xml"
        began = time.monotonic()
        measured["small_file"] = disqus_export(small, side_by_side)
        measured["small_file"]["generate_seconds"] = time.monotonic() - began
        print(f"  generated {small.name}: {measured['small_file']['bytes'] / 1e6:.0f} MB")
        with workdir() as work:
            measured["townhall_small"] = townhall_import(small, work, "townhall")
            print(f"  Townhall, {side_by_side:,}: {measured['townhall_small']['seconds']:.1f} s")
            measured["townhall_again"] = townhall_again(small, work)
            print(f"  Townhall again: {measured['townhall_again']['seconds']:.1f} s")
        with workdir() as work:
            measured["isso_small"] = isso_import(small, work)
            print(f"  Isso, {side_by_side:,}: {measured['isso_small']['seconds']:.1f} s")
        small.unlink()
        big = files / f"disqus-{args.import_comments}.xml"
        began = time.monotonic()
        measured["big_file"] = disqus_export(big, args.import_comments)
        measured["big_file"]["generate_seconds"] = time.monotonic() - began
        print(f"  generated {big.name}: {measured['big_file']['bytes'] / 1e6:.0f} MB")
        with workdir() as work:
            measured["townhall_big"] = townhall_import(big, work, "townhall-big")
            print(
                f"  Townhall, {args.import_comments:,}: {measured['townhall_big']['seconds']:.1f} s"
            )
    measured["problems"] = problems(measured)
    return measured


def problems(measured: dict[str, Any]) -> list[str]:
    """What the importers got wrong: the comments each wrote against what it should have kept.
    Isso 0.14's importer does not read <isSpam>: it should keep the spam (and does)."""
    found = []
    checks = (
        ("townhall_small", "small_file", "Townhall", "kept", "less deleted and spam"),
        ("isso_small", "small_file", "Isso", "kept_by_isso", "less deleted"),
        ("townhall_big", "big_file", "Townhall", "kept", "less deleted and spam"),
    )
    for run, file, name, expected, what in checks:
        kept = measured[file][expected]
        if measured[run]["comments"] != kept:
            found.append(
                f"{name} wrote {measured[run]['comments']:,} comments of {kept:,} "
                f"({measured[file]['posts']:,} posts {what})"
            )
    again = measured["townhall_again"]["comments"]
    if again != measured["townhall_small"]["comments"]:
        found.append(f"importing the same file again changed the comment count to {again:,}")
    return found


HEADERS = [
    "Importer",
    "Comments in the file",
    "Comments in its database after",
    "Wall time (s)",
    "Comments/s",
    "CPU (s)",
    "Processes",
    "Peak RSS, all processes (MiB)",
    "Peak PSS, all processes (MiB)",
    "Peak RSS, main process (MiB)",
]


def rows(measured: dict[str, Any]) -> list[list[str]]:
    def row(name: str, run: dict[str, Any], file: dict[str, Any]) -> list[str]:
        return [
            name,
            f"{file['posts']:,}",
            f"{run['comments']:,}",
            report.number(run["seconds"]),
            f"{file['posts'] / run['seconds']:,.0f}",
            report.number(run["cpu_seconds"]),
            str(run["processes"]),
            report.number(run["peak_mib"]),
            report.number(run["peak_pss_mib"]),
            report.number(run["main_peak_mib"]),
        ]

    isso = measured["isso_small"]
    return [
        row("Townhall", measured["townhall_small"], measured["small_file"]),
        row(f"Isso {isso['version']}", isso, measured["small_file"]),
        row("Townhall, the same file again", measured["townhall_again"], measured["small_file"]),
        row("Townhall", measured["townhall_big"], measured["big_file"]),
    ]


def verdict(measured: dict[str, Any]) -> tuple[bool, str]:
    big = measured["townhall_big"]
    met = (
        big["seconds"] < TARGET_SECONDS
        and big["peak_mib"] * 2**20 / 1e6 < TARGET_MB
        and not measured["problems"]
    )
    text = (
        f"{measured['big_file']['posts']:,} comments in {big['seconds']:.0f} s "
        f"(target {TARGET_SECONDS:.0f} s), peak {big['peak_mib'] * 2**20 / 1e6:.0f} MB resident "
        f"over its {big['processes']} processes (target {TARGET_MB:.0f} MB)"
    )
    return met, text


def print_results(measured: dict[str, Any]) -> None:
    print()
    print(report.text_table(HEADERS, rows(measured), text_columns=1))
    for problem in measured["problems"]:
        print(f"PROBLEM: {problem}")
    met, text = verdict(measured)
    print(f"\nTarget: {'MET' if met else 'NOT MET'} ({text})")


def section_markdown(env: dict[str, Any], measured: dict[str, Any]) -> str:
    m = env["machine"]
    edited = measured["source"]["townhall_changes"]
    changes = f", with uncommitted changes to {', '.join(edited)}" if edited else ""
    small, big = measured["small_file"], measured["big_file"]
    th_small, isso = measured["townhall_small"], measured["isso_small"]
    met, text = verdict(measured)
    problems_text = (
        "\n".join(f"- **Problem**: {p}" for p in measured["problems"])
        or "- Townhall wrote exactly the comments the file keeps (posts less deleted and spam), "
        "counted in its database afterwards, and nothing more on the second run; Isso wrote the "
        "posts less deleted ones: its importer does not read `<isSpam>`, so the file's "
        f"{small['spam']:,} spam posts are shown as comments."
    )
    speed = (small["posts"] / th_small["seconds"]) / (small["posts"] / isso["seconds"])
    memory = th_small["peak_mib"] / isso["peak_mib"]
    return f"""
## Importing a Disqus export: Townhall vs Isso 0.14

- **Date**: {env["date"]}
- **Machine**: {m["cpu"]}, {m["cores"]} cores, {m["ram_gib"]} GiB RAM, {m["os"]}, \
kernel {m["kernel"]}
- **Software**: harness on Python {env["harness_python"]}; Townhall (commit \
{measured["source"]["commit"]}{changes}, SQLite), Isso {isso["version"]}

### Command

```sh
{env["command"]}
```

which ran, each on a fresh SQLite database, one at a time:

```sh
{" ".join(th_small["argv"])}
{" ".join(isso["argv"])}
{" ".join(measured["townhall_big"]["argv"])}
```

### Method

- **Data**: a Disqus XML export generated by `bench/importing.py` (seed {SEED}): threads of
  {COMMENTS_PER_THREAD} posts on average, posts in time order with threads interleaved, about
  {REPLY_SHARE:.0%} replies to an earlier post of the same thread, {DELETED_SHARE:.0%} deleted
  and {SPAM_SHARE:.1%} spam (left out by Townhall), HTML messages of one to three
  paragraphs with links and bold words, {AUTHORS:,} authors (a third anonymous).
  {small["posts"]:,} posts: {small["bytes"] / 1e6:.0f} MB; {big["posts"]:,} posts:
  {big["bytes"] / 1e6:.0f} MB.
- **Measured**: each importer in a process group of its own: wall time, CPU time (its
  processes and their children, from `wait4`), and memory sampled every 0.2 s over every
  process of the group (Townhall renders comments in a pool of worker processes): the peak of
  the summed resident sizes (judged; pages shared between processes count once per process),
  the peak of the summed proportional sizes (shared pages split between them), and the main
  process's own peak (`ru_maxrss`). Then the comments and threads in its database.
- Townhall streams the file (lxml `iterparse`), renders every message as a new comment is
  rendered (HTML to Markdown, then markdown-it and nh3), and writes in one transaction; Isso
  parses the whole file into an ElementTree first and stores the HTML as it is. Isso is not
  given the million-comment file.
- Background CPU before the runs: {measured["background_cpu_busy"]:.0%}.

### Results

{report.table(HEADERS, rows(measured))}

Side by side on {small["posts"]:,} comments Townhall imports at {report.ratio(speed)} Isso's
pace with {report.ratio(memory)} its peak memory.

{problems_text}

### Target

- {"**Met**" if met else "**Not met**"}: {text}.
"""
