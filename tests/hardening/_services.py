"""Private PostgreSQL and Redis servers for the fault tests, and a `townhall serve` using them.

The fault tests stop and restart the database or the cache under a running server. They never
touch the machine's shared services (the suite's PostgreSQL pass uses those): each test starts
its own server from the system binaries, on a free port of 127.0.0.1, in a temporary directory,
and stops it afterwards. Without the binaries the tests are skipped, except with CI=true, where
they fail.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import conftest as browser_servers
from tests.browser.support import Server

POSTGRES_BIN = Path(os.environ.get("TOWNHALL_TEST_POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))
REDIS_SERVER = os.environ.get("TOWNHALL_TEST_REDIS_SERVER", "/usr/bin/redis-server")
# PostgreSQL refuses to run as root: its programs then run as this user.
POSTGRES_USER = "postgres"


def skip_without(program: Path | str, what: str) -> None:
    """Skips the test when ``program`` is missing; with CI=true the test fails instead."""
    if Path(program).is_file():
        return
    reason = f"{what} is needed and {program} is missing"
    if browser_servers.IN_CI:
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


def wait_for(check, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout} s")
        time.sleep(0.05)


# ---- PostgreSQL ----------------------------------------------------------------------------


class PrivatePostgres:
    """A PostgreSQL cluster of its own (trusting local connections): stop and start it at will."""

    def __init__(self) -> None:
        # Straight under /tmp, not under pytest's directories (private to root): the cluster's
        # user must reach it.
        self.directory = Path(tempfile.mkdtemp(prefix="townhall-postgres-"))
        self.data = self.directory / "data"
        self.log = self.directory / "postgres.log"
        self.port = browser_servers._free_port()
        self.url = f"postgres://{POSTGRES_USER}@127.0.0.1:{self.port}/townhall"
        self._options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories='' "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        if os.geteuid() == 0:
            shutil.chown(self.directory, POSTGRES_USER)

    def _run(self, program: str, *args: str) -> None:
        command = [str(POSTGRES_BIN / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", POSTGRES_USER, "--", *command]
        result = subprocess.run(  # noqa: S603
            command, capture_output=True, text=True, timeout=60, cwd="/"
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{program} {' '.join(args)} failed:\n{result.stdout}{result.stderr}"
            )

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", POSTGRES_USER, "-E", "UTF8")
        self.start()
        self._run(
            "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", POSTGRES_USER, "townhall"
        )

    def start(self) -> None:
        self._run(
            "pg_ctl", "start", "-w", "-D", str(self.data), "-l", str(self.log), "-o", self._options
        )

    def stop(self) -> None:
        self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data))

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url, connect_timeout=3) as db:
            return db.execute(sql, params).fetchall()


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    skip_without(POSTGRES_BIN / "initdb", "PostgreSQL (its initdb, pg_ctl, postgres)")
    postgres = PrivatePostgres()
    try:
        postgres.init()
        yield postgres
    finally:
        with contextlib.suppress(RuntimeError):
            postgres.stop()
        shutil.rmtree(postgres.directory, ignore_errors=True)


# ---- Redis ---------------------------------------------------------------------------------


class PrivateRedis:
    """A redis-server of its own, without persistence: ``start`` and ``stop`` it at will."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="townhall-redis-"))
        self.port = browser_servers._free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = (self.directory / "redis.log").open("ab")
        self.process = subprocess.Popen(  # noqa: S603
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_for(self._answers, timeout=10, what="redis-server did not answer")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def client(self):
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)

    def _answers(self) -> bool:
        import redis

        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False


@contextlib.contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    skip_without(REDIS_SERVER, "Redis (redis-server)")
    redis_server = PrivateRedis()
    try:
        redis_server.start()
        yield redis_server
    finally:
        redis_server.stop()
        shutil.rmtree(redis_server.directory, ignore_errors=True)


# ---- the Townhall server -------------------------------------------------------------------


@contextlib.contextmanager
def townhall_server(var_dir: Path, **settings: str) -> Iterator[Server]:
    """A migrated database with the demo site, and a real `townhall serve` over it; ``settings``
    are TOWNHALL_* variables (without the prefix) over the browser tests' environment."""
    env = browser_servers._env(var_dir)
    env.update({f"TOWNHALL_{name}": value for name, value in settings.items()})
    port = browser_servers._free_port()
    env["TOWNHALL_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    browser_servers._run(["migrate", "--noinput"], env)
    browser_servers._run(["demo", "--port", str(port)], env)
    server = Server(port=port, var_dir=var_dir, log_path=var_dir / "server.log")
    process = browser_servers._serve(server, env)
    try:
        browser_servers._wait_healthy(server, process)
        yield server
    finally:
        browser_servers._stop(process)


class Reply:
    def __init__(self, status: int, headers: Any, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    server: Server, method: str, path: str, body: Any = None, headers: dict | None = None
) -> Reply:
    """One request; any status comes back as a Reply (an error status is not an exception)."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Accept": "application/json", **(headers or {})}
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(  # noqa: S310 (http://127.0.0.1 only)
        server.url(path), data=data, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        with error:
            return Reply(error.code, error.headers, error.read())
