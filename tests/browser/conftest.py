"""Real-browser tests: Chromium (Debian's, driven by Playwright) against a real `townhall serve`.

Every test gets its own server process (`townhall serve`: Granian, the production path with the
ASGI fast path) over a fresh copy of a database migrated once per session with the demo site
loaded, on the port the demo site was loaded for (free when the session started; another one
when it has been taken since). Nothing here uses pytest-django's database: the tests talk HTTP.

Chromium is /usr/bin/chromium (``make browser`` installs it). Without it the tests are skipped,
except with CI=true, where they fail.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.browser.support import Server

HERE = Path(__file__).parent
CHROMIUM = os.environ.get("TOWNHALL_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--font-render-hinting=none",  # steadier glyph rendering for the screenshot baselines
]
TOWNHALL = str(Path(sys.executable).with_name("townhall"))
IN_CI = os.environ.get("CI", "").lower() == "true"
STARTUP_TIMEOUT = 15.0


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _failed(request) -> bool:
    report = getattr(request.node, "report_call", None)
    return report is None or report.failed


# ---- the server ----------------------------------------------------------------------------


def _env(var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOWNHALL_")}
    env.update(
        TOWNHALL_VAR_DIR=str(var_dir),
        TOWNHALL_DATABASE_URL=f"sqlite:///{var_dir / 'db.sqlite3'}",
        TOWNHALL_SECRET_KEY="test",
        TOWNHALL_RATELIMIT="0",
        TOWNHALL_LOG_LEVEL="WARNING",
        # One compiled toxicity model for every server of the session.
        TOWNHALL_MODEL_DIR=os.environ.get("TOWNHALL_MODEL_DIR", str(var_dir.parent / "models")),
    )
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Template:
    path: Path  # a migrated database with the demo site loaded
    port: int  # the port the demo site in it was loaded for


def _run(args: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(  # noqa: S603 (the project's own console script)
        [TOWNHALL, *args], env=env, capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        raise RuntimeError(f"townhall {' '.join(args)} failed:\n{result.stdout}{result.stderr}")


@pytest.fixture(scope="session")
def template_db(tmp_path_factory) -> Template:
    """A database migrated once per session, with the demo site loaded for one free port.

    Each test's server gets a copy of the file and serves on that same port again (tests run one
    after the other), which spares every test a `townhall demo` run.
    """
    var_dir = tmp_path_factory.mktemp("townhall-template")
    port = _free_port()
    _run(["migrate", "--noinput"], _env(var_dir))
    _run(["demo", "--port", str(port)], _env(var_dir))
    path = var_dir / "db.sqlite3"
    # Fold the write-ahead log into the file, so that copying the one file copies everything.
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.execute("PRAGMA journal_mode=DELETE")
    connection.close()
    return Template(path=path, port=port)


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _serve(server: Server, env: dict[str, str]) -> subprocess.Popen:
    with server.log_path.open("wb") as log:
        return subprocess.Popen(  # noqa: S603
            [TOWNHALL, "serve", "--host", "127.0.0.1", "--port", str(server.port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as a whole afterwards
        )


def _wait_healthy(server: Server, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"townhall serve exited with {process.returncode}:\n{server.log()}")
        try:
            with urllib.request.urlopen(server.url("/healthz"), timeout=1) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"townhall serve did not answer /healthz:\n{server.log()}")
        time.sleep(0.03)


def _stop(process: subprocess.Popen) -> None:
    """Kills the server's whole process group (Granian's main process and its workers) at once:
    its data is thrown away, so there is nothing to shut down gracefully."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


@pytest.fixture
def server(template_db: Template, tmp_path: Path, request) -> Iterator[Server]:
    """`townhall serve` with fresh data: the demo site and its seed article, nothing else."""
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    shutil.copyfile(template_db.path, var_dir / "db.sqlite3")
    env = _env(var_dir)
    port = template_db.port
    if not _port_is_free(port):
        # Something else took the template's port since: another one, with the demo site for it.
        port = _free_port()
        _run(["demo", "--port", str(port)], env)
    # Links the server makes to itself (the test checkout, the support page) use its address.
    env["TOWNHALL_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    server = Server(port=port, var_dir=var_dir, log_path=var_dir / "server.log")
    process = _serve(server, env)
    try:
        _wait_healthy(server, process)
        yield server
    finally:
        _stop(process)
        if _failed(request) and server.log().strip():
            print(f"---- townhall serve log ({server.log_path}) ----\n{server.log()[-4000:]}")


# ---- the browser ---------------------------------------------------------------------------


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One Chromium for the browser tests, closed as soon as they are done.

    Playwright's sync API keeps an asyncio loop in this thread, so within these tests Django would
    refuse database access (SynchronousOnlyOperation). They make none: the root conftest's
    autouse fixtures only clear caches, and everything else goes over HTTP. So
    DJANGO_ALLOW_ASYNC_UNSAFE is not set, and the rest of the suite keeps Django's check."""

    def unavailable(reason: str):
        if IN_CI:
            pytest.fail(f"{reason} (CI=true: the browser tests must run; `make browser`)")
        pytest.skip(reason)

    if not os.access(CHROMIUM, os.X_OK):
        unavailable(f"Chromium is not installed at {CHROMIUM}: run `make browser` as root")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class BrowserErrors:
    """Console errors and uncaught page errors; any that a test did not expect fail it.

    The one error expected everywhere is Chromium's own request for /favicon.ico, which the demo
    page does not have; it is the browser's doing, not the page's.
    """

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.expected: list[re.Pattern[str]] = [re.compile(r"\(http://[^/]+/favicon\.ico\)$")]

    def expect(self, pattern: str) -> None:
        """Lets console errors matching ``pattern`` (a regular expression) pass in this test."""
        self.expected.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [m for m in self.messages if not any(p.search(m) for p in self.expected)]


@pytest.fixture
def browser_errors() -> BrowserErrors:
    return BrowserErrors()


@pytest.fixture
def context(browser) -> Iterator[Any]:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        locale="en-US",
        timezone_id="UTC",
        color_scheme="light",
        reduced_motion="reduce",
    )
    context.set_default_timeout(5_000)
    context.set_default_navigation_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def page(context, browser_errors: BrowserErrors, request) -> Iterator[Any]:
    expect.set_options(timeout=5_000)
    page = context.new_page()

    def on_console(message) -> None:
        if message.type == "error":
            location = message.location or {}
            where = location.get("url", "")
            browser_errors.messages.append(f"console.error: {message.text} ({where})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: browser_errors.messages.append(f"pageerror: {error}"))
    yield page
    unexpected = browser_errors.unexpected()
    if unexpected and not _failed(request):
        pytest.fail("The page logged errors:\n" + "\n".join(unexpected), pytrace=False)
    elif unexpected:
        print("---- browser errors ----\n" + "\n".join(unexpected))


@pytest.fixture
def widget_available(server: Server) -> None:
    """Widget tests first check that the server serves the embed script at all."""
    try:
        with urllib.request.urlopen(server.url("/embed.js"), timeout=5) as response:  # noqa: S310
            kind = response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        error.close()
        pytest.fail(f"GET /embed.js answers {error.code}: no widget to test", pytrace=False)
    assert "javascript" in kind, f"GET /embed.js has Content-Type {kind!r}"
