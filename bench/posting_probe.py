"""`townhall serve` with its SQLite write transactions timed: the posting benchmark's probe.

bench/posting.py serves Townhall a second time with this file in place of
`townhall serve` (`.venv/bin/python -P bench/posting_probe.py --workers 2
--host H --port P`, the same environment). It runs the `serve` command
itself, with Granian's target replaced by this module's `application`:
Townhall's ASGI application (`townhall.config.asgi:application`) with the
same options, plus two timers around Django's SQLite backend in each worker:

- waiting for the write lock: `BEGIN IMMEDIATE` (the backend's
  `_start_transaction_under_autocommit`: Townhall's write queue,
  townhall/core/sqlite/base.py, then SQLite's own lock), which returns once
  this connection holds SQLite's write lock;
- holding it: from that moment until the commit (or rollback) that releases it
  is called (a lower bound: the commit itself, and the wait of its thread
  for the GIL afterwards, are left out), and until that call returns (an
  upper bound).

Each worker writes its totals to `$BENCH_PROBE_DIR/probe-PID.json` twice a
second. A load through it shows how much of a post's time is spent queuing
for SQLite's one writer, and how long each writer keeps the others out.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

PROBE_DIR_ENV = "BENCH_PROBE_DIR"
WRITE_EVERY_S = 0.5


class WriteLockTimes:
    """Per process: how long BEGIN IMMEDIATE waited, and how long the lock was then held."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.local = threading.local()
        self.transactions = 0
        self.wait_s = 0.0
        self.hold_s = 0.0  # until the commit is called: the lower bound
        self.hold_upper_s = 0.0  # until it returned
        self.waits_over_1ms = 0
        self.longest_wait_s = 0.0

    def waited(self, seconds: float) -> None:
        self.local.began = time.perf_counter()
        with self.lock:
            self.transactions += 1
            self.wait_s += seconds
            self.waits_over_1ms += seconds > 0.001
            self.longest_wait_s = max(self.longest_wait_s, seconds)

    def releasing(self) -> None:
        """Called just before the commit or rollback."""
        began = getattr(self.local, "began", None)
        if began is not None:
            self.local.releasing = time.perf_counter() - began

    def released(self) -> None:
        began = getattr(self.local, "began", None)
        if began is None:
            return
        self.local.began = None
        held = getattr(self.local, "releasing", None)
        upper = time.perf_counter() - began
        with self.lock:
            self.hold_s += upper if held is None else held
            self.hold_upper_s += upper

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "pid": os.getpid(),
                "transactions": self.transactions,
                "wait_s": self.wait_s,
                "hold_s": self.hold_s,
                "hold_upper_s": self.hold_upper_s,
                "waits_over_1ms": self.waits_over_1ms,
                "longest_wait_s": self.longest_wait_s,
            }


def instrument(times: WriteLockTimes) -> None:
    """Wrap the SQLite backend's BEGIN and the base backend's commit and rollback."""
    from django.db import connections
    from django.db.backends.base.base import BaseDatabaseWrapper

    # The backend Townhall's settings chose (townhall.core.sqlite, Django's with writers queued):
    # its BEGIN includes the wait in the queue. Private methods of Django's backends (5.2):
    # where the transaction starts and ends.
    DatabaseWrapper = type(connections["default"])
    begin = getattr(DatabaseWrapper, "_start_transaction_under_autocommit")  # noqa: B009
    commit = getattr(BaseDatabaseWrapper, "_commit")  # noqa: B009
    rollback = getattr(BaseDatabaseWrapper, "_rollback")  # noqa: B009

    def timed_begin(self: Any) -> None:
        started = time.perf_counter()
        begin(self)
        times.waited(time.perf_counter() - started)

    def timed_commit(self: Any) -> None:
        times.releasing()
        try:
            commit(self)
        finally:
            times.released()

    def timed_rollback(self: Any) -> None:
        times.releasing()
        try:
            rollback(self)
        finally:
            times.released()

    setattr(DatabaseWrapper, "_start_transaction_under_autocommit", timed_begin)  # noqa: B010
    setattr(BaseDatabaseWrapper, "_commit", timed_commit)  # noqa: B010
    setattr(BaseDatabaseWrapper, "_rollback", timed_rollback)  # noqa: B010


def keep_writing(times: WriteLockTimes, folder: Path) -> None:
    path = folder / f"probe-{os.getpid()}.json"
    temporary = folder / f".probe-{os.getpid()}.tmp"
    while True:
        time.sleep(WRITE_EVERY_S)
        # Written aside and renamed: the harness never reads half a file.
        temporary.write_text(json.dumps(times.snapshot()))
        temporary.replace(path)


def _application() -> Any:
    """Townhall's ASGI application, instrumented, in each Granian worker."""
    from townhall.config.asgi import application as townhall

    times = WriteLockTimes()
    instrument(times)
    folder = Path(os.environ[PROBE_DIR_ENV])
    threading.Thread(target=keep_writing, args=(times, folder), daemon=True).start()
    return townhall


def __getattr__(name: str) -> Any:
    # Loaded lazily, on first use by a worker, so the harness can import this module.
    if name == "application":
        app = _application()
        globals()["application"] = app
        return app
    raise AttributeError(name)


def main() -> None:
    """Run `townhall serve` itself, with this module's application as Granian's target."""
    import django
    import granian
    from django.core.management import call_command

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault(PROBE_DIR_ENV, os.getcwd())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "townhall.config.settings")
    # At the end of the path, so no harness module shadows anything Townhall imports.
    sys.path.append(str(Path(__file__).resolve().parent))
    django.setup()
    served = granian.Granian

    class ProbedGranian(served):  # type: ignore[misc, valid-type]
        def __init__(self, target: str, **options: Any) -> None:
            super().__init__("posting_probe:application", **options)

    granian.Granian = ProbedGranian  # type: ignore[misc]
    call_command("serve", host=args.host, port=args.port, workers=args.workers)


def read_probes(folder: Path) -> dict[str, Any]:
    """The workers' totals, summed (read by the harness after the load)."""
    probes = [json.loads(p.read_text()) for p in sorted(folder.glob("probe-*.json"))]
    total = {
        key: sum(p[key] for p in probes)
        for key in ("transactions", "wait_s", "hold_s", "hold_upper_s", "waits_over_1ms")
    }
    total["longest_wait_s"] = max((p["longest_wait_s"] for p in probes), default=0.0)
    total["processes"] = len(probes)
    return total


if __name__ == "__main__":
    main()
