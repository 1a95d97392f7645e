"""Small process, port and HTTP helpers shared by the benchmark peers.

Both peers (Townhall and Isso) need the same chores: pick a free port, start
a server in its own process group, wait until it answers, seed it with the
corpus and check one read (`serve_seeded`), send JSON, measure its memory
from /proc and stop it for sure. Keeping those here lets each peer module
read as "what is specific to this server" only. Stdlib only, so the harness
runs with any Python 3.11 without installing anything.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import corpus

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent

# The article both servers discuss. Its origin must be an allowed origin of
# the Townhall site and the configured host of Isso; nothing listens there.
ARTICLE_ORIGIN = "http://127.0.0.1:9999"
ARTICLE_PATH = "/article"
ARTICLE_URL = ARTICLE_ORIGIN + ARTICLE_PATH
ARTICLE_TITLE = "Bench article"

# Background CPU share (all cores, server idle) above which a measurement is flagged as noisy.
BUSY_WARNING = 0.15


class BenchError(RuntimeError):
    """A failure the harness explains to the user (printed without traceback)."""


@dataclass
class RunningPeer:
    """A started, seeded and verified server, as the benchmark runner sees it.

    Each peer module yields one of these from its context manager, so the
    runner treats Townhall and Isso the same way.
    """

    name: str  # "Townhall" or "Isso"
    version: str  # version of the server package, for the report
    base_url: str  # http://127.0.0.1:PORT, for other URLs of the same server
    read_url: str  # the URL under load: one read of the whole thread
    proc: subprocess.Popen[bytes]  # the server's process-group leader
    log_path: Path  # where the server writes its output
    serving: str  # how it is served, e.g. "gunicorn 23.0, 2 sync workers"
    python: str  # Python version the server runs on
    comment_count: int  # comments found in one read of read_url (verified)
    response_bytes: int  # body size of one read of read_url
    check: Callable[[], int]  # reads read_url again, fails unless complete; returns body size
    notes: str  # how this server answers the read, for the report's method section


@dataclass(frozen=True)
class PeerKind:
    """How to seed and check one kind of server; each peer module defines one.

    `serve_seeded` runs the same start-seed-verify-stop sequence for every
    kind, so the peers differ only in these functions and their command line.
    """

    name: str  # "Townhall" or "Isso", as in the report
    ready_path: str  # any HTTP answer at this path means the server is up
    notes: str  # how this server answers the read, for the report's method section
    seed: Callable[[str, list[corpus.Comment]], object]  # (base URL, corpus): post it all
    read_url: Callable[[str], str]  # base URL -> URL of one read of the whole thread
    verify: Callable[[str, int], int]  # (read URL, expected count) -> body size, or BenchError


@contextlib.contextmanager
def serve_seeded(
    kind: PeerKind,
    argv: Sequence[str],
    env: Mapping[str, str],
    workdir: Path,
    port: int,
    *,
    version: str,
    python: str,
    serving: Callable[[str], str],
) -> Iterator[RunningPeer]:
    """Start a server on `port`, seed it with the corpus and check one read returns it all.

    Yields the running peer; the server is stopped on exit, whatever happens.
    `serving` turns the read URL into the report's "served by" text (it may
    ask the server, e.g. for its `Server` header).
    """
    items = corpus.comments()
    base = f"http://127.0.0.1:{port}"
    log_path = workdir / "server.log"
    proc = start_server(argv, env, log_path, cwd=workdir)
    try:
        wait_until_ready(base + kind.ready_path, proc, log_path)
        try:
            kind.seed(base, items)
            url = kind.read_url(base)
            size = kind.verify(url, len(items))
            served_by = serving(url)
        except BenchError as error:
            raise with_server_log(error, log_path) from error
        yield RunningPeer(
            name=kind.name,
            version=version,
            base_url=base,
            read_url=url,
            proc=proc,
            log_path=log_path,
            serving=served_by,
            python=python,
            comment_count=len(items),
            response_bytes=size,
            check=lambda: kind.verify(url, len(items)),
            notes=kind.notes,
        )
    finally:
        stop_server(proc)


def smoke_test(running: Callable[[], AbstractContextManager[RunningPeer]]) -> None:
    """Start, seed and verify one peer without load, and print what would be benchmarked."""
    try:
        with running() as peer:
            print(f"{peer.name} {peer.version} ready: {peer.read_url}")
            print(f"  {peer.comment_count} comments, {peer.response_bytes} bytes per read")
    except BenchError as error:
        sys.exit(f"error: {error}")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now.

    Binding to port 0 lets the kernel choose, so two runs (or a developer's
    own server) never collide on a hard-coded port.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    argv: Sequence[str], env: Mapping[str, str], log_path: Path, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start a server in a new session (its own process group), logging to a file.

    Its own process group lets us later find all its workers (for memory)
    and stop all of them with one signal, without touching anything else.
    """
    log = log_path.open("wb")
    try:
        return subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        log.close()  # the child holds its own copy of the descriptor


def stop_server(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """Stop the server's whole process group: SIGTERM, then SIGKILL after `grace`.

    The group id is the pid of the process we started (start_new_session), so
    this only ever signals processes this harness created.
    """
    pgid = proc.pid
    if proc.poll() is None or group_pids(pgid):
        _signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and (proc.poll() is None or group_pids(pgid)):
            time.sleep(0.1)
        if proc.poll() is None or group_pids(pgid):
            _signal_group(pgid, signal.SIGKILL)
    proc.wait(timeout=grace)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    """Send `sig` to a process group, ignoring a group that is already gone."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def with_server_log(error: BenchError, log_path: Path) -> BenchError:
    """The same error with the server log's last lines, which usually say why."""
    return BenchError(f"{error}\nlast server log lines ({log_path}):\n{log_tail(log_path)}")


def log_tail(log_path: Path, lines: int = 30) -> str:
    """Return the last lines of a server log, to explain a failed start."""
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def wait_until_ready(
    url: str, proc: subprocess.Popen[bytes], log_path: Path, timeout: float = 60.0
) -> None:
    """Poll `url` until the server answers with any HTTP status.

    Any HTTP answer (even 404) means the server accepts and serves requests;
    a process that exits meanwhile fails fast with the tail of its log.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(
                f"server exited with code {proc.returncode} while starting; "
                f"last log lines ({log_path}):\n{log_tail(log_path)}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            time.sleep(0.2)
    raise BenchError(
        f"server not ready after {timeout:.0f}s at {url}; "
        f"last log lines ({log_path}):\n{log_tail(log_path)}"
    )


def http_json(
    method: str,
    url: str,
    payload: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> tuple[int, Any, bytes]:
    """Send one request with an optional JSON body; return (status, parsed JSON, raw body).

    HTTP errors (4xx/5xx) are returned, not raised, so callers can show the
    body; a broken connection raises BenchError.
    """
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    except (urllib.error.URLError, OSError) as error:  # reset, refused, timed out
        raise BenchError(f"{method} {url} failed: {error}") from error
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return status, parsed, raw


def package_versions(python: Path, names: Sequence[str]) -> dict[str, str] | None:
    """Versions of installed distributions as seen by `python` (missing ones omitted).

    Returns None if that interpreter cannot run at all. Used to put exact
    versions of both servers and their HTTP servers in the report.
    """
    script = (
        "import importlib.metadata as m, json, sys\n"
        "found = {'python': sys.version.split()[0]}\n"
        "for name in sys.argv[1:]:\n"
        "    try:\n"
        "        found[name] = m.version(name)\n"
        "    except m.PackageNotFoundError:\n"
        "        pass\n"
        "print(json.dumps(found))\n"
    )
    try:
        result = subprocess.run(
            [str(python), "-c", script, *names], capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    if result.returncode != 0:
        return None
    return dict(json.loads(result.stdout))


def group_cpu_ticks(pgid: int) -> int:
    """CPU time (user + system, in clock ticks) used so far by a process group's live processes."""
    ticks = 0
    for pid in group_pids(pgid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks


def wait_until_idle(pgid: int, timeout: float = 30.0) -> None:
    """Wait until the server has drained the requests still queued after a warm-up.

    wrk stops sending at the end of a run, but a server with a deep queue (Isso's
    sync workers) keeps answering closed connections for a while; the next
    measurement should not start against that backlog.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = group_cpu_ticks(pgid)
        time.sleep(0.5)
        if group_cpu_ticks(pgid) - before <= 5:  # under 10% of one core
            return


def cpu_busy_share(exclude_pgid: int | None = None, seconds: float = 1.0) -> float:
    """Share of all CPU time (0..1, all cores) spent busy over the next `seconds`.

    Sampled while the server under test is idle (and not counting it), it
    shows whether something else on the machine (a test suite, a build)
    would skew the measurement.
    """

    def sample() -> tuple[int, int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        own = group_cpu_ticks(exclude_pgid) if exclude_pgid else 0
        return sum(fields), idle, own

    total0, idle0, own0 = sample()
    time.sleep(seconds)
    total1, idle1, own1 = sample()
    elapsed = total1 - total0
    busy = elapsed - (idle1 - idle0) - (own1 - own0)
    return 0.0 if elapsed <= 0 else max(0.0, busy / elapsed)


def response_header(url: str, name: str) -> str:
    """One header of a GET answer (e.g. `Server`), or "" when absent."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return str(response.headers.get(name, ""))
    except (urllib.error.URLError, OSError) as error:
        raise BenchError(f"GET {url} failed: {error}") from error


def group_pids(pgid: int) -> list[int]:
    """List the live processes of a process group, read from /proc/<pid>/stat."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command name: state ppid pgrp ...
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(entry.name))
    return sorted(pids)


def _status_kib(pid: int, field: str) -> int:
    """Read one `kB` field (e.g. VmRSS) from /proc/<pid>/status; 0 if gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _pss_kib(pid: int) -> int:
    """Read the proportional set size from /proc/<pid>/smaps_rollup; 0 if unavailable."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def group_memory(pgid: int) -> dict[str, int]:
    """Sum memory over every process of the server's group (master + workers).

    RSS is what was asked for and what `ps` shows, but it counts pages shared
    between forked workers once per worker; PSS splits shared pages fairly, so
    both are recorded.
    """
    pids = group_pids(pgid)
    return {
        "processes": len(pids),
        "rss_kib": sum(_status_kib(pid, "VmRSS") for pid in pids),
        "pss_kib": sum(_pss_kib(pid) for pid in pids),
    }


def run_logged(
    argv: Sequence[str],
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> None:
    """Run a setup command to completion, appending its output to a log file.

    Raises BenchError with the log tail, so the user sees why setup failed.
    """
    with log_path.open("ab") as log:
        log.write(("$ " + " ".join(argv) + "\n").encode())
        log.flush()
        result = subprocess.run(
            list(argv),
            env=None if env is None else dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if result.returncode != 0:
        raise BenchError(
            f"command failed with exit code {result.returncode}: {' '.join(argv)}\n"
            f"last log lines ({log_path}):\n{log_tail(log_path)}"
        )


def source_state() -> dict[str, Any]:
    """The commit measured, and the files under townhall/ that differ from it (if any)."""

    def git(*argv: str) -> str:
        result = subprocess.run(
            ["git", *argv], cwd=REPO_DIR, capture_output=True, text=True, check=False
        )
        return result.stdout if result.returncode == 0 else ""

    changed = git("status", "--porcelain", "--", "townhall")  # "XY path" lines
    return {
        "commit": git("rev-parse", "--short", "HEAD").strip() or "unknown",
        "townhall_changes": [line[3:] for line in changed.splitlines() if line.strip()],
    }
