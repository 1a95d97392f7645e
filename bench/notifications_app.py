"""Townhall's side of the notifications benchmark (bench/notifications.py), run in its own Python.

bench/notifications.py runs this file with the project's virtualenv
(`.venv/bin/python -P bench/notifications_app.py COMMAND ...`) in the same
environment as the `townhall worker` processes it starts (TOWNHALL_VAR_DIR,
TOWNHALL_DATABASE_URL, TOWNHALL_EMAIL_URL, ...), so Django's settings come
from those variables, as they would for an operator. Each command prints one
JSON object as the last line of its standard output:

  setup N      the article's thread with one root comment, and N confirmed
               subscribers with a `thread` subscription to it (bulk_create:
               the setup is not what is measured); prints their addresses
  post         one reply to the root comment through the real path
               (`do_post_comment` in a transaction: `comment_published` on
               commit enqueues `fan_out_comment`); prints the commit time and
               checks that exactly that task was queued
  outcome ID   what became of reply ID: its fan-out task (queued, started and
               finished, by a worker), the send batches it queued, the state
               of its deliveries
  profile      two more replies posted the same way, whose fan-out and then
               first send batch run here: one under cProfile (call counts,
               own time), one under a sampling profiler that keeps whole
               call stacks (an exact call tree) with every SQL statement
               timed; their other queued tasks and their deliveries are
               removed afterwards, so no worker sends them

`-P` keeps bench/ off sys.path, so no harness module shadows anything Django imports.
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import re
import signal
import sys
import time
from collections import defaultdict
from datetime import datetime
from typing import Any

SITE = "bench"  # created by `townhall createsite` (bench/townhall_peer.py prepare)
ARTICLE_URL = "http://127.0.0.1:9999/article"
ARTICLE_TITLE = "Bench article"
FAN_OUT = "townhall.notifications.tasks.fan_out_comment"
SEND = "townhall.notifications.tasks.send_deliveries"
# Queued by every `townhall worker` at start and each minute; may appear at any time.
DIGESTS = "townhall.notifications.tasks.send_due_digests"
PACKAGES = ("townhall", "django", "django-tasks", "django-tasks-db", "aiosmtpd")
REPLY_BODY = (
    "A reply that every follower of this discussion hears about: *one* comment, "
    "[a link](https://example.org/more) and a few words more, like a real one."
)


def subscriber_email(number: int) -> str:
    return f"reader-{number:05d}@bench.example"


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "townhall.config.settings")
    import django

    django.setup()


def stamp(moment: datetime | None) -> float | None:
    """A database timestamp as Unix seconds (the clock of time.time() in the other processes)."""
    return None if moment is None else moment.timestamp()


def setup(count: int) -> dict[str, Any]:
    from django.db import transaction
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from townhall.discussions.actions import do_post_comment
    from townhall.notifications.models import Subscriber, Subscription, SubscriptionKind
    from townhall.sites.models import Site

    started = time.perf_counter()
    site = Site.objects.get(slug=SITE)
    root = do_post_comment(
        site,
        url=ARTICLE_URL,
        title=ARTICLE_TITLE,
        body="The first comment under the article.",
        author_name="First commenter",
        author_email="first@bench.example",
    ).comment
    # The root comment's own fan-out, queued before anyone followed the thread: not measured.
    DBTaskResult.objects.all().delete()
    now = timezone.now()
    with transaction.atomic():
        subscribers = Subscriber.objects.bulk_create(
            [
                Subscriber(site=site, email=subscriber_email(n), confirmed_at=now)
                for n in range(count)
            ],
            batch_size=2000,
        )
        Subscription.objects.bulk_create(
            [
                Subscription(subscriber=s, thread_id=root.thread_id, kind=SubscriptionKind.THREAD)
                for s in subscribers
            ],
            batch_size=2000,
        )
    emails = list(
        Subscription.objects.filter(
            thread_id=root.thread_id,
            kind=SubscriptionKind.THREAD,
            subscriber__confirmed_at__isnull=False,
        ).values_list("subscriber__email", flat=True)
    )
    return {
        "versions": versions(),
        "thread_id": root.thread_id,
        "root_id": root.pk,
        "subscribers": len(emails),
        "emails": emails,
        "seconds": round(time.perf_counter() - started, 2),
    }


def versions() -> dict[str, str]:
    """Python, SQLite and the packages that take part, as installed here."""
    import importlib.metadata
    import sqlite3

    found = {"python": sys.version.split()[0], "sqlite": sqlite3.sqlite_version}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "?"
    return found


def post(label: str) -> dict[str, Any]:
    """One reply to the root comment, committed; returns its id and the commit's time."""
    from django.db import transaction
    from django_tasks_db.models import DBTaskResult

    from townhall.discussions.actions import do_post_comment
    from townhall.discussions.models import Comment
    from townhall.sites.models import Site

    site = Site.objects.get(slug=SITE)
    root = Comment.objects.filter(thread__site=site, parent__isnull=True).order_by("pk").first()
    if root is None:
        raise SystemExit("no root comment: run `setup` first")
    queued_before = set(DBTaskResult.objects.values_list("pk", flat=True))
    committed: list[float] = []
    with transaction.atomic():
        # Registered first, so it runs first after the commit, before comment_published.
        transaction.on_commit(lambda: committed.append(time.time()))
        comment = do_post_comment(
            site,
            url=ARTICLE_URL,
            body=REPLY_BODY,
            parent_id=root.pk,
            author_name=f"Replier {label}",
            author_email=f"replier-{label}@bench.example",
        ).comment
    queued = DBTaskResult.objects.exclude(pk__in=queued_before).exclude(task_path=DIGESTS)
    tasks = [(t.task_path, t.args_kwargs) for t in queued]
    expected = [(FAN_OUT, {"args": [comment.pk], "kwargs": {}})]
    if tasks != expected:
        raise SystemExit(f"expected the commit to queue {expected}, found {tasks}")
    return {"comment_id": comment.pk, "committed_at": committed[0]}


def outcome(comment_id: int) -> dict[str, Any]:
    from django.db.models import Count, Max, Min
    from django_tasks_db.models import DBTaskResult

    from townhall.notifications.models import Delivery

    fan_outs = [
        t
        for t in DBTaskResult.objects.filter(task_path=FAN_OUT)
        if t.args_kwargs.get("args") == [comment_id]
    ]
    if len(fan_outs) != 1:
        raise SystemExit(
            f"expected one fan-out task for comment {comment_id}, found {len(fan_outs)}"
        )
    fan_out = fan_outs[0]
    deliveries = Delivery.objects.filter(comment_id=comment_id)
    delivery_ids = set(deliveries.values_list("pk", flat=True))
    batches = [
        t
        for t in DBTaskResult.objects.filter(task_path=SEND).order_by("enqueued_at")
        if set(t.args_kwargs["args"][0]) <= delivery_ids
    ]
    batched_ids = [pk for t in batches for pk in t.args_kwargs["args"][0]]
    by_status = dict(deliveries.values_list("status").annotate(n=Count("pk")).order_by())
    sent = deliveries.aggregate(first=Min("sent_at"), last=Max("sent_at"), attempts=Max("attempts"))
    return {
        "fan_out": {
            "status": fan_out.status,
            "enqueued_at": stamp(fan_out.enqueued_at),
            "started_at": stamp(fan_out.started_at),
            "finished_at": stamp(fan_out.finished_at),
            "return_value": fan_out.return_value,
            "worker_ids": fan_out.worker_ids,
            "traceback": fan_out.traceback[-2000:],
        },
        "batches": {
            "count": len(batches),
            "sizes": sorted({len(t.args_kwargs["args"][0]) for t in batches}),
            "delivery_ids": len(batched_ids),
            "distinct_delivery_ids": len(set(batched_ids)),
            "statuses": dict(_count(t.status for t in batches)),
            "sent": sum(t.return_value or 0 for t in batches),
            "first_enqueued_at": stamp(batches[0].enqueued_at) if batches else None,
            "last_enqueued_at": stamp(batches[-1].enqueued_at) if batches else None,
            "last_finished_at": max((stamp(t.finished_at) or 0 for t in batches), default=None),
            "workers": len({w for t in batches for w in t.worker_ids}),
            "tracebacks": [t.traceback[-1000:] for t in batches if t.traceback][:3],
        },
        "deliveries": {
            "count": len(delivery_ids),
            "by_status": by_status,
            "max_attempts": sent["attempts"],
            "first_sent_at": stamp(sent["first"]),
            "last_sent_at": stamp(sent["last"]),
        },
        "tasks_left": DBTaskResult.objects.filter(status__in=["READY", "RUNNING"]).count(),
    }


def _count(items: Any) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for item in items:
        counts[str(item)] += 1
    return counts


def statement_kind(sql: str) -> str:
    """`INSERT INTO townhall_notifications_delivery`-like label of a statement, for grouping."""
    words = sql.split()
    verb = words[0].upper() if words else "?"
    if verb == "SELECT":
        match = re.search(r'\bFROM\s+"?(\w+)"?', sql)
    elif verb in {"INSERT", "DELETE"}:
        match = re.search(r'\b(?:INTO|FROM)\s+"?(\w+)"?', sql)
    elif verb == "UPDATE":
        match = re.search(r'^\s*UPDATE\s+"?(\w+)"?', sql, re.IGNORECASE)
    else:
        match = None
    return f"{verb} {match.group(1)}" if match else verb


def timed_sql(sql: dict[str, list[float]]) -> Any:
    """A Django execute wrapper that adds each statement's execution time to `sql`, by kind."""

    def timed(execute: Any, statement: str, params: Any, many: bool, context: Any) -> Any:
        began = time.perf_counter()
        try:
            return execute(statement, params, many, context)
        finally:
            sql[statement_kind(statement)].append(time.perf_counter() - began)

    return timed


class Sampler:
    """A wall-clock sampling profiler: every INTERVAL seconds, SIGALRM records the whole call
    stack of the main thread, weighted by the time since the previous sample.

    Unlike cProfile, which only records caller -> callee pairs, whole stacks say under which
    path a shared function (Django's `manager_method` wrapper, `execute_sql`) spent its time;
    and it slows the code down far less. A C call (SQLite, a socket) cannot be interrupted,
    so its time goes to the Python function that made it, at the first sample after it
    returns; a blocking system call is interrupted, sampled and resumed (PEP 475).
    """

    INTERVAL = 0.0005

    def __init__(self) -> None:
        self.stacks: dict[tuple[Any, ...], float] = defaultdict(float)
        self.last = 0.0

    def _sample(self, _signum: int, frame: Any) -> None:
        now = time.perf_counter()
        codes = []
        while frame is not None:
            codes.append(frame.f_code)
            frame = frame.f_back
        self.stacks[tuple(reversed(codes))] += now - self.last
        self.last = now

    def __enter__(self) -> Sampler:
        self.previous = signal.signal(signal.SIGALRM, self._sample)
        self.last = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, self.INTERVAL, self.INTERVAL)
        return self

    def __exit__(self, *_exc: object) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self.previous)

    def tree(self, root_name: str) -> list[dict[str, Any]]:
        """The sampled time under the task function `root_name`, as an indented call tree:
        every call of townhall code is opened, calls into libraries only when they take a
        large share; calls under TREE_MIN_SHARE of the task are left out."""
        paths: dict[tuple[Any, ...], float] = defaultdict(float)
        for stack, seconds in self.stacks.items():
            roots = [
                n for n, code in enumerate(stack) if code.co_name == root_name and _is_tasks(code)
            ]
            if not roots:
                continue
            path = stack[roots[0] :]
            for end in range(1, len(path) + 1):
                paths[path[:end]] += seconds
        children: dict[tuple[Any, ...], list[tuple[Any, ...]]] = defaultdict(list)
        for path in paths:
            if len(path) > 1:
                children[path[:-1]].append(path)
        roots = [path for path in paths if len(path) == 1]
        if not roots:
            return []
        total = paths[roots[0]]
        rows: list[dict[str, Any]] = []

        def walk(path: tuple[Any, ...], depth: int) -> None:
            code = path[-1]
            rows.append({"depth": depth, "function": code_label(code), "seconds": paths[path]})
            own_code = "/townhall/" in code.co_filename
            if depth >= TREE_DEPTH or not (
                own_code or depth == 0 or paths[path] >= TREE_EXPAND_SHARE * total
            ):
                return
            for child in sorted(children[path], key=lambda p: -paths[p]):
                if paths[child] >= TREE_MIN_SHARE * total:
                    walk(child, depth + 1)

        walk(roots[0], 0)
        return rows


def _is_tasks(code: Any) -> bool:
    return str(code.co_filename).endswith("townhall/notifications/tasks.py")


TREE_MIN_SHARE = 0.02  # calls under 2% of the task's time are left out of the tree
TREE_EXPAND_SHARE = 0.10  # a call outside townhall/ is opened only when it takes 10% or more
TREE_DEPTH = 8


def sampled(call: Any, root_name: str) -> dict[str, Any]:
    """Run `call()` under the sampler, with every SQL statement timed."""
    from django.db import connection

    sql: dict[str, list[float]] = defaultdict(list)
    with connection.execute_wrapper(timed_sql(sql)):
        began = time.perf_counter()
        with Sampler() as sampler:
            value = call()
        seconds = time.perf_counter() - began
    return {
        "value": value,
        "seconds": seconds,
        "tree": sampler.tree(root_name),
        "sql": sorted(
            (
                {"statement": kind, "count": len(times), "seconds": sum(times)}
                for kind, times in sql.items()
            ),
            key=lambda row: -row["seconds"],
        ),
    }


def profiled(call: Any, top: int) -> dict[str, Any]:
    """Run `call()` under cProfile: exact call counts, and each function's own time."""
    profiler = cProfile.Profile()
    began = time.perf_counter()
    profiler.enable()
    value = call()
    profiler.disable()
    seconds = time.perf_counter() - began
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    raw: dict[Key, Any] = stats.stats  # type: ignore[attr-defined]
    own = sorted(raw.items(), key=lambda item: -item[1][2])[:top]
    return {
        "value": value,
        "seconds": seconds,
        "own": [
            {
                "function": label(key),
                "calls": calls,
                "own_seconds": tottime,
                "cumulative_seconds": cumtime,
            }
            for key, (_cc, calls, tottime, cumtime, _callers) in own
        ],
        "pstats": text.getvalue(),
    }


Key = tuple[str, int, str]  # (file, line, function), as pstats names a function
REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def short_path(path: str) -> str:
    """`townhall/...`, `django/...` or a standard library module, rather than a full path."""
    for marker in ("/site-packages/", REPO_DIR + "/"):
        if marker in path:
            return path.split(marker, 1)[1]
    if "/lib/python3." in path:
        return path.split("/lib/python3.", 1)[1].split("/", 1)[1]
    return path


def label(key: Key) -> str:
    """`townhall/notifications/actions.py:do_record_deliveries`, `django/...:bulk_create`."""
    path, _line, name = key
    if path == "~":  # a built-in: pstats names it like "<method 'execute' of ... objects>"
        return re.sub(r" at 0x[0-9a-f]+", "", name)
    return f"{short_path(path)}:{name}"


def code_label(code: Any) -> str:
    """`django/.../related_descriptors.py:ForwardManyToOneDescriptor.__set__`: the qualified
    name, without the functions a nested one was made in (`manager_method`), except for a
    comprehension's (`do_record_deliveries.<listcomp>`)."""
    parts = getattr(code, "co_qualname", code.co_name).split(".<locals>.")
    name = parts[-1]
    if name.startswith("<") and len(parts) > 1:
        name = f"{parts[-2]}.{name}"
    return f"{short_path(code.co_filename)}:{name}"


def profile(top: int) -> dict[str, Any]:
    """Two more replies, each fanned out here and its first send batch sent from here: the
    first under cProfile, the second under the sampler with every SQL statement timed.

    The batches really are sent (to the SMTP sink of TOWNHALL_EMAIL_URL). Afterwards the
    replies' queued tasks (the fan-outs their commits queued, the batches the fan-outs
    queued) and their deliveries are removed, so no worker ever sends them.
    """
    from django_tasks_db.models import DBTaskResult

    from townhall.notifications import emails
    from townhall.notifications.models import Delivery
    from townhall.notifications.tasks import fan_out_comment, send_deliveries

    queued_before = set(DBTaskResult.objects.values_list("pk", flat=True))
    result: dict[str, Any] = {}
    comments = []
    for method in ("cprofile", "sampled"):
        comment_id = post(f"profiled-{method}")["comment_id"]
        comments.append(comment_id)
        queued = set(DBTaskResult.objects.values_list("pk", flat=True))

        def fan_out(comment_id: int = comment_id) -> int:
            return int(fan_out_comment.call(comment_id))

        if method == "cprofile":
            result[f"fan_out_{method}"] = profiled(fan_out, top)
        else:
            result[f"fan_out_{method}"] = sampled(fan_out, "fan_out_comment")
        first_batch = (
            DBTaskResult.objects.filter(task_path=SEND)
            .exclude(pk__in=queued)
            .order_by("enqueued_at")
            .first()
        )
        if first_batch is None:
            raise SystemExit("the profiled fan-out queued no send batch")
        batch_ids = first_batch.args_kwargs["args"][0]
        # Unlike a worker (`townhall worker` runs Django's system checks when it starts), this
        # process has not imported the URLconf that reverse() needs, nor loaded the templates:
        # one message built beforehand keeps that one-time cost out of the profile.
        warm = Delivery.objects.select_related("subscriber__site", "comment__thread").get(
            pk=batch_ids[0]
        )
        emails.notification_message(warm)

        def send(batch_ids: list[int] = batch_ids) -> int:
            return int(send_deliveries.call(batch_ids))

        if method == "cprofile":
            result[f"send_{method}"] = profiled(send, top)
        else:
            result[f"send_{method}"] = sampled(send, "send_deliveries")
        result["batch"] = len(batch_ids)
    DBTaskResult.objects.exclude(pk__in=queued_before).delete()
    Delivery.objects.filter(comment_id__in=comments).delete()
    return result


def main(argv: list[str]) -> int:
    command, *rest = argv
    django_setup()
    if command == "setup":
        result = setup(int(rest[0]))
    elif command == "post":
        result = post(rest[0] if rest else "1")
    elif command == "outcome":
        result = outcome(int(rest[0]))
    elif command == "profile":
        result = profile(int(rest[0]) if rest else 15)
    else:
        raise SystemExit(f"unknown command {command!r}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
