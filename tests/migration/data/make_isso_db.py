"""Make tests/migration/data/isso.db with the real Isso 0.14 (not run by the test suite).

    python3 tests/migration/data/make_isso_db.py [--venv /tmp/isso-venv] [--out PATH]

Installs isso==0.14 into a virtualenv of its own (created when missing), runs ``isso run`` on
127.0.0.1 with a throw-away config (moderation on, so comments start pending; stdout
notifications, which print each comment's activate and delete links), and writes through
Isso's own HTTP API only: comments on two threads, replies and a reply to a reply, likes and a
dislike from other readers (X-Forwarded-For, 127.0.0.1 being a trusted proxy), a comment
deleted after it got a reply (Isso keeps it as a mode 4 placeholder), one deleted without
replies (Isso removes it), and one left pending. Then it stops Isso and copies the database.

Stdlib only, so it runs with any Python 3.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ISSO_VERSION = "0.14"

CONFIG = """\
[general]
dbpath = {dbpath}
host = http://example.tld/
notify = stdout
gravatar = false
log-file = {log}

[server]
listen = http://127.0.0.1:{port}/
trusted-proxies = 127.0.0.1

[moderation]
enabled = true

[guard]
enabled = false
"""


def ensure_isso(venv: Path) -> Path:
    isso = venv / "bin" / "isso"
    if not isso.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)  # noqa: S603
        pip = [str(venv / "bin" / "pip"), "install", "-q", f"isso=={ISSO_VERSION}"]
        subprocess.run(pip, check=True)  # noqa: S603
    return isso


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Isso:
    def __init__(self, isso: Path, workdir: Path) -> None:
        self.port = free_port()
        self.db = workdir / "comments.db"
        self.log = workdir / "isso.log"
        config = workdir / "isso.cfg"
        config.write_text(CONFIG.format(dbpath=self.db, log=self.log, port=self.port))
        self.process = subprocess.Popen(  # noqa: S603
            [str(isso), "-c", str(config), "run"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(self.base + "/info", timeout=1).close()  # noqa: S310
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise SystemExit("Isso did not start; see " + str(self.log))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

    def request(self, method: str, path: str, body: dict | None = None, reader: str = "") -> dict:
        headers = {"Content-Type": "application/json"}
        if reader:
            headers["X-Forwarded-For"] = reader
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data, headers, method=method)  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            text = response.read().decode()
        return json.loads(text) if text.startswith(("{", "null")) else {}

    def post(self, uri: str, title: str, text: str, reader: str, **fields: object) -> int:
        comment = self.request(
            "POST", f"/new?uri={uri}", {"text": text, "title": title, **fields}, reader
        )
        return int(comment["id"])

    def action(self, comment_id: int, action: str) -> None:
        """Follow the activate/delete link Isso printed for the comment (as its owner would)."""
        pattern = re.compile(rf"/id/{comment_id}/{action}/(\S+)")
        for _ in range(50):
            found = pattern.findall(self.log.read_text())
            if found:
                self.request("POST", f"/id/{comment_id}/{action}/{found[-1]}")
                return
            time.sleep(0.1)
        raise SystemExit(f"no {action} link for comment {comment_id} in the log")


def make(isso_bin: Path, out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        isso = Isso(isso_bin, Path(tmp))
        try:
            one, two = "/2014/test/", "/about/"
            alice = isso.post(
                one,
                "Hello, World",
                "First!\n\nA *second* paragraph, with a [link](http://example.org/).",
                "198.51.100.7",
                author="Alice",
                email="alice@example.org",
                website="http://alice.example.org/",
            )
            anonymous = isso.post(one, "Hello, World", "No name given.", "198.51.101.7")
            reply = isso.post(
                one,
                "Hello, World",
                "A reply to Alice.",
                "198.51.102.7",
                author="Bob",
                email="bob@example.org",
                parent=alice,
            )
            # Isso keeps two levels: a reply to a reply is stored under the top-level comment.
            nested = isso.post(
                one, "Hello, World", "Reply to Bob.", "198.51.100.7", author="Alice", parent=reply
            )
            doomed = isso.post(
                one, "Hello, World", "I will regret this.", "198.51.103.7", author="Carol"
            )
            orphan = isso.post(
                one,
                "Hello, World",
                "Answering Carol.",
                "198.51.104.7",
                author="Dave",
                parent=doomed,
            )
            vanished = isso.post(
                two, "About", "Gone without a trace.", "198.51.105.7", author="Eve"
            )
            about = isso.post(two, "About", "Nice page.", "198.51.106.7", author="Frank")
            pending = isso.post(
                two, "About", "Still waiting for a moderator.", "198.51.107.7", author="Grace"
            )
            for comment_id in (alice, anonymous, reply, nested, doomed, orphan, vanished, about):
                isso.action(comment_id, "activate")
            for reader in ("203.0.113.1", "203.0.114.1", "203.0.115.1"):
                isso.request("POST", f"/id/{alice}/like", reader=reader)
            isso.request("POST", f"/id/{alice}/dislike", reader="203.0.116.1")
            isso.request("POST", f"/id/{about}/dislike", reader="203.0.113.1")
            isso.action(doomed, "delete")  # has a reply: stays as a mode 4 placeholder
            isso.action(vanished, "delete")  # no reply: removed
            assert pending
        finally:
            isso.stop()
        # One file, no write-ahead log beside it.
        with sqlite3.connect(isso.db) as db:
            db.execute("VACUUM")
        db.close()
        shutil.copyfile(isso.db, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=Path(tempfile.gettempdir()) / "isso-venv")
    parser.add_argument("--out", type=Path, default=HERE / "isso.db")
    args = parser.parse_args()
    make(ensure_isso(args.venv), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
