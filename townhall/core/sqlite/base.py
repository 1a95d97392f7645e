"""Django's SQLite backend, with its writers queued instead of sleeping.

SQLite lets one connection write at a time. A connection that finds the write lock taken is put
to sleep by SQLite's busy handler for 1, 2, 5, 10 ... 100 ms between tries, so under a steady
stream of posts a waiting writer mostly sleeps past the moment the lock is free (the posting
benchmark measured 38 ms of waiting per post, with the lock free a third of the time).

This backend puts writers in a queue first (``WriteQueue``): a lock for the threads of this
process, then an ``flock`` on ``<database>.writelock`` for the processes that share the file
(the workers of ``townhall serve``, ``townhall worker``, commands). A writer holds both from
``BEGIN IMMEDIATE`` to its ``COMMIT`` or ``ROLLBACK``, or for one statement that writes outside a
transaction; the kernel and the thread lock wake the next writer the moment they are released,
and it then finds SQLite's lock free. SQLite's busy handler stays as the fallback for writers
that do not queue (another program on the same file).

An in-memory database (the test suite's) or a ``file:`` URI is not queued.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from typing import Any

from django.db.backends.sqlite3 import base as sqlite3_base

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLAC")


class WriteQueue:
    """One writer at a time among the connections, threads and processes using one file.

    Re-entrant within a thread. ``timeout`` bounds the wait, for the threads of this process and
    for the other processes alike: past it a writer goes on to SQLite, which waits for the rest
    of its own timeout or fails with "database is locked", as without the queue (a transaction
    left open in a shell must not stall every writer for good). The threads of a process wait on
    a lock; the one whose turn comes then asks for the file lock, and while another process
    holds it, asks again every millisecond or two rather than sleeping up to 100 ms as SQLite's
    busy handler does.
    """

    def __init__(self, path: str, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self._threads = threading.RLock()
        self._depth = 0  # re-entries of the thread holding it
        self._locked = False  # this process holds the file lock
        self._fd: int | None = None
        self._fd_pid = 0

    def acquire(self) -> bool:
        """True once this thread may write; False if the wait timed out (then it holds
        nothing)."""
        deadline = time.monotonic() + self.timeout
        if not self._threads.acquire(timeout=self.timeout):
            return False
        self._depth += 1
        if self._depth == 1:
            try:
                self._locked = self._lock_file(deadline)
            except BaseException:
                self._depth -= 1
                self._threads.release()
                raise
            if not self._locked:
                self._depth -= 1
                self._threads.release()
                return False
        return True

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._locked and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            self._locked = False
        self._threads.release()

    def _lock_file(self, deadline: float) -> bool:
        fd = self._file()
        pause = 0.0002
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(pause)
                pause = min(pause * 2, 0.002)

    def _file(self) -> int:
        # Opened in each process: a descriptor inherited across fork shares its flock with the
        # parent, and would let both write at once.
        if self._fd is None or self._fd_pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._fd_pid = os.getpid()
        return self._fd


_queues: dict[str, WriteQueue] = {}
_queues_lock = threading.Lock()


def write_queue(database: str, timeout: float) -> WriteQueue:
    """The queue of a database file, shared by every connection of this process to it."""
    path = os.path.abspath(database) + ".writelock"
    with _queues_lock:
        return _queues.setdefault(path, WriteQueue(path, timeout))


class QueuedCursorWrapper(sqlite3_base.SQLiteCursorWrapper):
    """Queues a statement that writes outside a transaction (autocommit) for its duration."""

    queue: WriteQueue | None = None

    def execute(self, query: str, params: Any = None) -> Any:
        if self.queue is None or not self._writes_alone(query):
            return super().execute(query, params)
        queued = self.queue.acquire()
        try:
            return super().execute(query, params)
        finally:
            if queued:
                self.queue.release()

    def executemany(self, query: str, param_list: Any) -> Any:
        if self.queue is None or not self._writes_alone(query):
            return super().executemany(query, param_list)
        queued = self.queue.acquire()
        try:
            return super().executemany(query, param_list)
        finally:
            if queued:
                self.queue.release()

    def _writes_alone(self, query: str) -> bool:
        return not self.connection.in_transaction and query.lstrip()[:6].upper() in _WRITES


class DatabaseWrapper(sqlite3_base.DatabaseWrapper):
    """Precondition: ``OPTIONS["transaction_mode"]`` is ``IMMEDIATE`` (settings), so that a
    transaction holds SQLite's write lock from its ``BEGIN`` and the queue's turn matches it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._queue: WriteQueue | None = None
        self._queued = False  # this connection holds its turn for a transaction

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        connection = super().get_new_connection(conn_params)
        name = str(self.settings_dict["NAME"])
        if not self.is_in_memory_db() and not name.startswith("file:"):
            self._queue = write_queue(name, float(conn_params.get("timeout", 5)))
        return connection

    def create_cursor(self, name: str | None = None) -> Any:
        cursor = self.connection.cursor(factory=QueuedCursorWrapper)
        cursor.queue = self._queue
        return cursor

    def _start_transaction_under_autocommit(self) -> None:
        if self._queue is not None and not self._queued:
            self._queued = self._queue.acquire()
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]
        except BaseException:
            self._leave_queue()
            raise

    def _commit(self) -> Any:
        result = super()._commit()  # type: ignore[misc]
        # Only once committed: after a failed commit the transaction is still open, and the
        # rollback that follows leaves the queue.
        self._leave_queue()
        return result

    def _rollback(self) -> Any:
        try:
            return super()._rollback()  # type: ignore[misc]
        finally:
            self._leave_queue()

    def _close(self) -> Any:
        try:
            return super()._close()  # type: ignore[misc]
        finally:
            self._leave_queue()

    def _leave_queue(self) -> None:
        if self._queued and self._queue is not None:
            self._queued = False
            self._queue.release()
