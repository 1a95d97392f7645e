"""Fault tests: the disk under the SQLite default fills up.

Two ways to fill it, both ending in the error a full disk gives, SQLITE_FULL ("database or disk
is full"), never a 500:

* A real full file system (``test_a_full_tmpfs_...``): a real `townhall serve` keeps its
  database on a small tmpfs mounted for the test, and a ballast file takes every byte left, so
  SQLite's writes to the write-ahead log and the database file fail with ENOSPC, as on a full
  disk. Freeing space is deleting the ballast. Mounting needs root (or CAP_SYS_ADMIN); where the
  suite has neither, this test is skipped and the next one covers the same path.
* ``PRAGMA max_page_count`` (``test_a_full_database_...``): SQLite refuses to give the file one
  more page and fails with SQLITE_FULL at the same point of its pager. It runs everywhere. The
  cap belongs to one connection, so the test drives the API in this process (Django's test
  client, the whole middleware stack) on the connection it caps, with no test transaction around
  the requests, as a server has none. The room SQLite still has inside the file (free pages,
  space left in the last pages) is taken first by a ballast table; a comment that needs a new
  page then can't be stored. Freeing space is raising the cap again.
"""

from __future__ import annotations

import errno
import json
import shutil
import sqlite3
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import closing
from email.message import Message
from pathlib import Path

import pytest
from django.db import OperationalError, connection

from tests.browser import conftest as browser_servers
from tests.browser.support import Server
from townhall.discussions.models import Comment, CommentStatus, Thread

pytestmark = pytest.mark.skipif(
    connection.vendor != "sqlite",
    reason="about the SQLite default: its disk-full error (SQLITE_FULL), on a full tmpfs or "
    "at PRAGMA max_page_count",
)

# The browser tests' template: a migrated database with the demo site, once per session.
template_db = browser_servers.template_db

ORIGIN = "https://news.example"
COMMENTS, THREADS = Comment._meta.db_table, Thread._meta.db_table


def big_body() -> str:
    """A comment longer than a page (4 KiB), so storing it needs new pages whatever room is
    left in others; each one different, as the moderation pipeline holds repeated text."""
    return " ".join(uuid.uuid4().hex for _ in range(180))


class Disk:
    """The database's room to grow: ``fill`` leaves it none, ``free`` gives it back."""

    def _execute(self, sql: str) -> list[tuple]:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()

    def pages(self) -> int:
        return self._execute("PRAGMA page_count")[0][0]

    def fill(self) -> None:
        self._execute("CREATE TABLE IF NOT EXISTS test_ballast (data BLOB)")
        self._execute(f"PRAGMA max_page_count = {self.pages()}")
        for size in (3000, 300, 30):
            for _ in range(100_000):
                try:
                    self._execute(f"INSERT INTO test_ballast VALUES (zeroblob({size}))")  # noqa: S608
                except OperationalError as error:
                    assert "full" in str(error)
                    break

    def free(self) -> None:
        self._execute(f"PRAGMA max_page_count = {self.pages() + 100_000}")

    def integrity(self) -> str:
        return "; ".join(row[0] for row in self._execute("PRAGMA integrity_check"))


@pytest.fixture
def disk(transactional_db) -> Iterator[Disk]:
    disk = Disk()
    (before,) = disk._execute("PRAGMA max_page_count")[0]
    yield disk
    disk._execute(f"PRAGMA max_page_count = {before}")
    disk._execute("DROP TABLE IF EXISTS test_ballast")


def _visible_rows(thread: Thread) -> int:
    return Comment.objects.filter(thread=thread, status=CommentStatus.VISIBLE).count()


def test_a_full_database_refuses_the_comment_cleanly_and_recovers(api, make_site, disk) -> None:
    site = make_site(slug="news")
    article = f"{ORIGIN}/2016/07/incirlik/"
    assert api.comment(site, "Before the disk filled up.", url=article).status_code == 201
    thread = Thread.objects.get()

    disk.fill()
    refused = big_body()
    response = api.comment(site, refused, url=article)

    assert response.status_code == 507, response.content
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "storage_full"
    assert "full" in response.json()["error"]["message"]
    assert int(response["Retry-After"]) > 0
    # Nothing of it was written, and what was there is intact.
    assert not Comment.objects.filter(body=refused).exists()
    thread.refresh_from_db()
    assert thread.comment_count == _visible_rows(thread) == 1
    assert disk.integrity() == "ok"

    # The first comment on another article would open its thread: neither is left behind.
    other = f"{ORIGIN}/2016/07/another/"
    assert api.comment(site, big_body(), url=other).status_code == 507
    assert Thread.objects.count() == 1

    disk.free()
    response = api.comment(site, refused, url=article)

    assert response.status_code == 201, response.content
    thread.refresh_from_db()
    assert thread.comment_count == _visible_rows(thread) == 2
    assert Comment.objects.filter(body=refused).count() == 1
    assert api.comment(site, big_body(), url=other).status_code == 201
    assert disk.integrity() == "ok"


def test_the_full_disk_is_logged_for_the_operator(api, make_site, disk, caplog) -> None:
    site = make_site(slug="news")
    assert api.comment(site, "Opens the thread.").status_code == 201
    disk.fill()

    with caplog.at_level("ERROR", logger="townhall.api"):
        assert api.comment(site, big_body()).status_code == 507

    [record] = [r for r in caplog.records if r.name == "townhall.api"]
    assert "full" in record.getMessage()
    assert record.exc_info is None  # one line, no traceback: it is not a bug


# ---- a real full file system under a real server -------------------------------------------

DISK_SIZE = 32 * 1024 * 1024


def _mount_tmpfs(mount: Path) -> None:
    try:
        result = subprocess.run(  # noqa: S603
            ["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE},mode=0700", "townhall", str(mount)],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=10,
        )
    except FileNotFoundError:
        pytest.skip("no mount(8) here; test_a_full_database_... covers SQLITE_FULL")
    if result.returncode != 0:
        pytest.skip(
            f"cannot mount a tmpfs here ({result.stderr.strip()}: needs root or "
            "CAP_SYS_ADMIN); test_a_full_database_... covers SQLITE_FULL"
        )


def _fill(path: Path) -> None:
    """Writes ``path`` until the file system has no byte left."""
    with path.open("wb", buffering=0) as ballast:
        for chunk in (1 << 20, 1 << 12, 1):
            try:
                while True:
                    ballast.write(b"\0" * chunk)
            except OSError as error:
                assert error.errno == errno.ENOSPC, error


@pytest.fixture
def server_on_small_disk(template_db, tmp_path: Path, request) -> Iterator[Server]:
    """`townhall serve` (as the browser tests start it) with its database on a small tmpfs."""
    disk = tmp_path / "disk"
    disk.mkdir()
    _mount_tmpfs(disk)
    process = None
    try:
        shutil.copyfile(template_db.path, disk / "db.sqlite3")
        env = browser_servers._env(disk)
        port = template_db.port
        if not browser_servers._port_is_free(port):
            port = browser_servers._free_port()
            browser_servers._run(["demo", "--port", str(port)], env)
        server = Server(port=port, var_dir=disk, log_path=tmp_path / "server.log")
        process = browser_servers._serve(server, env)
        browser_servers._wait_healthy(server, process)
        yield server
    finally:
        if process is not None:
            browser_servers._stop(process)
        subprocess.run(["umount", "--lazy", str(disk)], check=False, timeout=10)  # noqa: S603, S607


def _post(server: Server, body: str) -> tuple[int, dict, Message]:
    """(status, JSON body, headers) of a post, whatever the status."""
    payload = json.dumps({"site": "demo", "url": server.article_url, "body": body}).encode()
    request = urllib.request.Request(  # noqa: S310 (127.0.0.1)
        server.url("/api/v1/comments"),
        data=payload,
        method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read()), response.headers
    except urllib.error.HTTPError as error:
        with error:
            raw = error.read()
            try:
                answer = json.loads(raw)
            except ValueError:
                answer = {"raw": raw.decode(errors="replace")}
            return error.code, answer, error.headers


def _database_state(server: Server, bodies: list[str]) -> tuple[list[int], list[tuple], str]:
    """Rows per body, threads whose count disagrees with their visible rows, integrity."""
    with closing(sqlite3.connect(server.var_dir / "db.sqlite3", timeout=10)) as db:
        query = f"SELECT COUNT(*) FROM {COMMENTS} WHERE body = ?"  # noqa: S608 (table names)
        counts = [db.execute(query, [body]).fetchone()[0] for body in bodies]
        drift = db.execute(
            f"SELECT t.id, t.comment_count, COUNT(c.id) FROM {THREADS} t"  # noqa: S608
            f" LEFT JOIN {COMMENTS} c ON c.thread_id = t.id AND c.status = 'visible'"
            " GROUP BY t.id HAVING t.comment_count != COUNT(c.id)"
        ).fetchall()
        integrity = "; ".join(row[0] for row in db.execute("PRAGMA integrity_check"))
    return counts, drift, integrity


def test_a_full_tmpfs_refuses_comments_cleanly_and_recovers(server_on_small_disk) -> None:
    server = server_on_small_disk
    assert _post(server, "Before the disk filled up.")[0] == 201
    ballast = server.var_dir / "ballast"
    _fill(ballast)

    # Pages SQLite had already allocated take a few posts; then the disk is full.
    accepted, refused = [], None
    for _ in range(60):
        body = big_body()
        status, answer, headers = _post(server, body)
        if status in (201, 202):
            accepted.append(body)
            continue
        refused = (body, status, answer, headers)
        break
    assert refused is not None, "every post was stored on a full disk"
    body, status, answer, headers = refused
    assert status == 507, (status, answer)
    assert answer["error"]["code"] == "storage_full"
    assert int(headers["Retry-After"]) > 0  # (Message: names in any case)
    counts, drift, integrity = _database_state(server, [*accepted, body])
    assert counts == [1] * len(accepted) + [0]
    assert drift == []
    assert integrity == "ok"

    ballast.unlink()
    again = big_body()
    status, answer, _ = _post(server, again)
    assert status == 201, answer
    counts, drift, integrity = _database_state(server, [again, body])
    assert counts == [1, 0]
    assert drift == []
    assert integrity == "ok"
    log = server.log()
    assert "Traceback" not in log, log[-4000:]
