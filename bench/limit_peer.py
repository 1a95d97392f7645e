"""The limit as a thread-read peer: Granian returning Townhall's own answer from memory.

Townhall's fast path answers the thread read without Django; what is left is
Granian, the ASGI protocol and a little Python per request. To show how much
of the time that floor takes, the thread-read benchmark also loads a third
server: bench/limit_app.py, a minimal ASGI app under Granian with the options
`townhall serve --workers 2` passes it (read from that command each run),
that returns the very
status, headers and body Townhall answered to the same request in the same
run (captured with `capture_answer` right after Townhall's load). Served at
the same path and query, checked byte for byte before the load.

Run `python bench/limit_peer.py` to capture an answer from a seeded Townhall,
start the limit with it and check it once (no load).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import townhall_peer
from support import (
    BENCH_DIR,
    BenchError,
    RunningPeer,
    free_port,
    package_versions,
    start_server,
    stop_server,
    wait_until_ready,
    with_server_log,
)

APP = BENCH_DIR / "limit_app.py"
WORKERS = townhall_peer.WORKERS
# Set by Granian itself on every answer (Townhall's and the limit's alike), or hop-by-hop.
SERVER_HEADERS = {"server", "date", "connection", "keep-alive", "transfer-encoding"}
NOTES = (
    "The limit returns, to every request, the status, headers and body Townhall answered to "
    "this read earlier in the same run, held in memory as bytes: no parsing, no lookup."
)


@dataclass(frozen=True)
class Answer:
    """One HTTP answer as received: status, headers (without Server and Date), body."""

    path: str  # path and query it answered, e.g. /api/v1/threads?site=...
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def capture_answer(url: str) -> Answer:
    """GET `url` as wrk sends it (no Origin, no Accept-Encoding) and keep the answer whole."""
    request = urllib.request.Request(url, headers={"Accept-Encoding": "identity"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, body = response.status, response.read()
            headers = [
                (name, value)
                for name, value in response.headers.items()
                if name.lower() not in SERVER_HEADERS
            ]
    except (urllib.error.URLError, OSError) as error:
        raise BenchError(f"GET {url} failed: {error}") from error
    if status != 200:
        raise BenchError(f"GET {url} answered {status}, not 200")
    return Answer(path=url.split("/", 3)[3], status=status, headers=headers, body=body)


def capture_from_townhall() -> Answer:
    """Start a seeded Townhall (not measured) only to capture its answer to the read."""
    with townhall_peer.running_townhall() as peer:
        return capture_answer(peer.read_url)


def write_answer(answer: Answer, folder: Path) -> None:
    """Write the answer as bench/limit_app.py reads it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "body").write_bytes(answer.body)
    meta = {"status": answer.status, "headers": answer.headers}
    (folder / "headers.json").write_text(json.dumps(meta))


def count_comments(body: bytes) -> int:
    """Comments in Townhall's thread page (the body the limit returns)."""
    return townhall_peer.count_comments(json.loads(body).get("comments") or [])


def verify(url: str, answer: Answer) -> int:
    """Fail unless `url` returns the captured body and headers; return the body size."""
    got = capture_answer(url)
    if got.body != answer.body or sorted(got.headers) != sorted(answer.headers):
        raise BenchError(f"the limit at {url} does not return Townhall's answer byte for byte")
    return len(got.body)


def serve_options(python: Path, workers: int, workdir: Path) -> str:
    """The Granian options of `townhall serve --workers N`, as JSON (bench/limit_app.py)."""
    env = townhall_peer.server_env(workdir)
    result = subprocess.run(
        [str(python), "-P", str(APP), "options", "--workers", str(workers)],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0 or not result.stdout.strip():
        tail = "\n".join((result.stderr or result.stdout).splitlines()[-15:])
        raise BenchError(f"could not read the options of `townhall serve`:\n{tail}")
    return result.stdout.strip().splitlines()[-1]


def shown_options(options: str) -> str:
    """Granian's options for the report: `name=value, ...` (enums by their value)."""
    values = json.loads(options).items()
    return ", ".join(f"`{k}={v[-1] if isinstance(v, list) else v}`" for k, v in values)


@contextmanager
def running_limit(answer: Answer, workers: int = WORKERS) -> Iterator[RunningPeer]:
    """Start bench/limit_app.py under Granian with `answer`; stop it on exit, whatever happens."""
    python = townhall_peer.townhall_bin().parent / "python"
    versions = package_versions(python, ["granian"])
    if not versions or "granian" not in versions:
        raise BenchError(f"granian is not installed for {python}")
    with tempfile.TemporaryDirectory(prefix="bench-limit-") as tmp:
        workdir = Path(tmp)
        write_answer(answer, workdir / "answer")
        options = serve_options(python, workers, workdir)
        port = free_port()
        argv = [str(python), str(APP), "serve", "--response", str(workdir / "answer")]
        argv += ["--options", options, "--host", "127.0.0.1", "--port", str(port)]
        log_path = workdir / "server.log"
        proc = start_server(argv, os.environ, log_path, cwd=workdir)
        try:
            base = f"http://127.0.0.1:{port}"
            url = f"{base}/{answer.path}"
            wait_until_ready(url, proc, log_path)
            try:
                size = verify(url, answer)
            except BenchError as error:
                raise with_server_log(error, log_path) from error
            yield RunningPeer(
                name="Limit",
                version=f"(Granian {versions['granian']})",
                base_url=base,
                read_url=url,
                proc=proc,
                log_path=log_path,
                serving=(
                    f"`python bench/limit_app.py serve`: granian {versions['granian']} with the "
                    f"options `townhall serve --workers {workers}` passes it, read from that "
                    f"command ({shown_options(options)})"
                ),
                python=versions["python"],
                comment_count=count_comments(answer.body),
                response_bytes=size,
                check=lambda: verify(url, answer),
                notes=NOTES,
            )
        finally:
            stop_server(proc)


def main() -> None:
    """Capture Townhall's answer, start the limit with it and check it once."""
    try:
        answer = capture_from_townhall()
        with running_limit(answer) as peer:
            print(f"{peer.name} {peer.version} ready: {peer.read_url}")
            print(f"  {peer.comment_count} comments, {peer.response_bytes} bytes per read")
            print(f"  headers: {', '.join(name for name, _ in answer.headers)}")
    except BenchError as error:
        raise SystemExit(f"error: {error}") from None


if __name__ == "__main__":
    main()
