"""Benchmark: notifications for one comment on a thread with 10,000 subscribers.

The target: "notifications for one comment on a thread with 10,000
subscribers are queued in under a second and sent at the SMTP sink's pace".

Setup: a fresh SQLite database in a temporary directory (`townhall migrate`,
`townhall createsite`, as for the other benchmarks), then, in the project's
Python with the same environment (bench/notifications_app.py), the article's
thread with one root comment and 10,000 confirmed subscribers following it,
inserted with bulk_create (setup is not what is measured). Email goes to an
SMTP sink (bench/smtp_sink.py, aiosmtpd, its own process) through
TOWNHALL_EMAIL_URL=smtp://127.0.0.1:PORT.

Each measured run posts one reply through the real path (`do_post_comment`
in a transaction; `comment_published` on commit queues `fan_out_comment`)
while `townhall worker` processes (1, then 2) are running and idle:

- queueing: the worker that picks up `fan_out_comment` records when it
  claimed it and when it returned (DBTaskResult started_at / finished_at), by
  which time all 10,000 deliveries are recorded and all send batches queued;
- sending: the workers then send the batches; the run ends when the sink
  has received a message for each of the 10,000 subscribers. Every address
  must get exactly one message, and the database must show every delivery
  sent and every batch task successful.

The sink's own pace is the reference: the same sink receiving 10,000 copies
of a message Townhall sent from a plain smtplib loop over one connection.
Last, one more reply's fan-out and one send batch run under cProfile, to
show where their time goes.

Run through `python bench/run.py --benchmark notifications`; it needs the
project's virtualenv with aiosmtpd (the `test` extra, which `make bench`
installs).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import math
import smtplib
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import report
import townhall_peer
from report import TIMES
from support import (
    BENCH_DIR,
    BUSY_WARNING,
    BenchError,
    cpu_busy_share,
    free_port,
    group_cpu_ticks,
    log_tail,
    source_state,
    start_server,
    stop_server,
)

BENCH_KEY = "notifications"
SUBSCRIBERS = 10_000  # the target's thread
QUEUE_TARGET_S = 1.0  # fan-out: all deliveries recorded and all batches queued within this
PACE_TARGET = 0.9  # "at the sink's pace": at least 90% of the messages/s the sink accepts
WORKER_COUNTS = (1, 2)  # `townhall worker` processes per sending run
BATCH = 100  # deliveries per send task (townhall.notifications.tasks.BATCH), checked below
SEND_TIMEOUT_S = 120.0  # a run that has not delivered everything by then fails
READY_TIMEOUT_S = 30.0
APP = BENCH_DIR / "notifications_app.py"
SINK = BENCH_DIR / "smtp_sink.py"
CLOCK_TICKS = 100  # /proc CPU times are in clock ticks (USER_HZ), 100 per second on Linux


# ---- processes --------------------------------------------------------------------------------


class Sink:
    """The SMTP sink process (bench/smtp_sink.py), asked over its stdin/stdout."""

    def __init__(self, python: Path, workdir: Path) -> None:
        self.port = free_port()
        self.log_path = workdir / "sink.log"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [str(python), "-P", str(SINK), str(self.port)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                start_new_session=True,
            )
        self._read()  # {"ready": PORT}

    def ask(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()
        except OSError as error:
            raise self._gone() from error
        return self._read()

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise self._gone()
        return dict(json.loads(line))

    def _gone(self) -> BenchError:
        return BenchError(
            f"the SMTP sink stopped; last lines of {self.log_path}:\n{log_tail(self.log_path)}"
        )

    def cpu_ticks(self) -> int:
        return group_cpu_ticks(self.proc.pid)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            assert self.proc.stdin is not None
            self.proc.stdin.close()  # the sink exits at the end of its input
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            stop_server(self.proc)  # type: ignore[arg-type]


@dataclass
class Bench:
    """What every step needs: the project's Python and `townhall`, the environment, the sink."""

    python: Path
    townhall: Path
    env: dict[str, str]
    workdir: Path
    sink: Sink
    subscribers: int
    emails: list[str]

    def app(self, *argv: str, timeout: float = 120.0) -> dict[str, Any]:
        """Run one command of bench/notifications_app.py; its JSON answer."""
        command = [str(self.python), "-P", str(APP), *argv]
        try:
            result = subprocess.run(
                command,
                env=self.env,
                cwd=self.workdir,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise BenchError(f"`notifications_app.py {' '.join(argv)}` timed out") from error
        if result.returncode != 0 or not result.stdout.strip():
            tail = "\n".join((result.stderr or result.stdout).splitlines()[-20:])
            raise BenchError(
                f"`notifications_app.py {' '.join(argv)}` failed "
                f"(exit code {result.returncode}):\n{tail}"
            )
        return dict(json.loads(result.stdout.strip().splitlines()[-1]))


Worker = tuple[subprocess.Popen[bytes], Path]  # a worker process and its log


@contextlib.contextmanager
def running_workers(bench: Bench, count: int) -> Iterator[list[Worker]]:
    """Start `count` `townhall worker` processes, each in its own session; stop them on exit.

    Yields them, each with its log, once every one has logged that it started polling the queue.
    Stopping is SIGTERM, on which a worker finishes the task it is running and exits.
    """
    procs: list[Worker] = []
    try:
        for number in range(1, count + 1):
            log_path = bench.workdir / f"worker-{count}-{number}.log"
            proc = start_server([str(bench.townhall), "worker"], bench.env, log_path, bench.workdir)
            procs.append((proc, log_path))
        deadline = time.monotonic() + READY_TIMEOUT_S
        for proc, log_path in procs:
            while "Starting worker" not in log_path.read_text(errors="replace"):
                check_alive([(proc, log_path)])
                if time.monotonic() > deadline:
                    raise BenchError(f"worker not ready; last lines:\n{log_tail(log_path)}")
                time.sleep(0.1)
        yield procs
    finally:
        for proc, _log in procs:
            stop_server(proc)


def check_alive(procs: list[Worker]) -> None:
    for proc, log_path in procs:
        if proc.poll() is not None:
            raise BenchError(
                f"a worker exited with code {proc.returncode}; last lines of {log_path}:\n"
                f"{log_tail(log_path)}"
            )


# ---- checks -----------------------------------------------------------------------------------


def recipient_problems(recipients: list[list[str]], expected: set[str]) -> list[str]:
    """What is wrong with the sink's messages: each subscriber exactly one, nobody else."""
    problems = []
    not_single = sum(1 for rcpts in recipients if len(rcpts) != 1)
    if not_single:
        problems.append(f"{not_single} messages not addressed to exactly one recipient")
    counts = Counter(address.lower() for rcpts in recipients for address in rcpts)
    missing = len(expected - counts.keys())
    unexpected = len(counts.keys() - expected)
    repeated = sum(1 for n in counts.values() if n > 1)
    if missing:
        problems.append(f"{missing} subscribers got no message")
    if unexpected:
        problems.append(f"{unexpected} addresses that are not subscribers got messages")
    if repeated:
        problems.append(f"{repeated} addresses got more than one message")
    return problems


def outcome_problems(outcome: dict[str, Any], subscribers: int) -> list[str]:
    """What is wrong in the database after a run: the fan-out, its batches, the deliveries."""
    fan, batches, deliveries = outcome["fan_out"], outcome["batches"], outcome["deliveries"]
    expected_batches = math.ceil(subscribers / BATCH)
    problems = []
    if fan["status"] != "SUCCESSFUL" or fan["return_value"] != subscribers:
        problems.append(
            f"fan-out task {fan['status']}, returned {fan['return_value']!r} "
            f"(expected {subscribers}) {fan['traceback']}"
        )
    if (
        batches["count"] != expected_batches
        or batches["delivery_ids"] != subscribers
        or batches["distinct_delivery_ids"] != subscribers
    ):
        problems.append(
            f"{batches['count']} send batches with {batches['delivery_ids']} delivery ids "
            f"({batches['distinct_delivery_ids']} distinct), expected {expected_batches} "
            f"batches of up to {BATCH} covering {subscribers}"
        )
    if batches["statuses"] != {"SUCCESSFUL": expected_batches} or batches["sent"] != subscribers:
        problems.append(
            f"send batches {batches['statuses']}, {batches['sent']} sent; "
            f"{' '.join(batches['tracebacks'])}"
        )
    if deliveries["by_status"] != {"sent": subscribers} or deliveries["max_attempts"] != 1:
        problems.append(
            f"deliveries {deliveries['by_status']}, up to {deliveries['max_attempts']} attempts"
        )
    return problems


def arrivals(dump: dict[str, Any]) -> dict[str, Any]:
    """First and last arrival at the sink and the rate between them (messages after the first)."""
    times = dump["times"]
    first, last = min(times), max(times)
    span = last - first
    return {
        "messages": len(times),
        "first_at": first,
        "last_at": last,
        "send_seconds": span,
        "messages_per_sec": (len(times) - 1) / span if span > 0 else 0.0,
    }


# ---- measurements -----------------------------------------------------------------------------


def send_run(bench: Bench, workers: int) -> dict[str, Any]:
    """One reply, fanned out and sent by `workers` running workers; timings and checks."""
    sink = bench.sink
    sink.ask("reset")
    busy = cpu_busy_share()
    with running_workers(bench, workers) as procs:
        ticks_before = sum(group_cpu_ticks(p.pid) for p, _log in procs)
        sink_before = sink.cpu_ticks()
        posted = bench.app("post", f"{workers}-workers")
        deadline = time.monotonic() + SEND_TIMEOUT_S
        while (state := sink.ask("count"))["distinct"] < bench.subscribers:
            check_alive(procs)
            if time.monotonic() > deadline:
                raise BenchError(
                    f"{workers} worker(s): the sink had {state['count']} messages for "
                    f"{state['distinct']} of {bench.subscribers} subscribers after "
                    f"{SEND_TIMEOUT_S:.0f} s; last lines of the first worker's log:\n"
                    f"{log_tail(procs[0][1])}"
                )
            time.sleep(0.1)
        worker_ticks = sum(group_cpu_ticks(p.pid) for p, _log in procs) - ticks_before
        sink_ticks = sink.cpu_ticks() - sink_before
    # Stopped: every worker has finished its last task, so the database is final.
    dump = sink.ask("dump")
    outcome = bench.app("outcome", str(posted["comment_id"]))
    committed = posted["committed_at"]
    fan, batches = outcome["fan_out"], outcome["batches"]
    arrived = arrivals(dump)
    return {
        "workers": workers,
        "comment_id": posted["comment_id"],
        "committed_at": committed,
        "fan_out_seconds": fan["finished_at"] - fan["started_at"],
        "pickup_seconds": fan["started_at"] - committed,
        "queued_seconds": fan["finished_at"] - committed,
        "first_batch_queued_seconds": batches["first_enqueued_at"] - committed,
        "deliveries_recorded": fan["return_value"],
        "batches_queued": batches["count"],
        **arrived,
        "first_message_seconds": arrived["first_at"] - committed,
        "last_message_seconds": arrived["last_at"] - committed,
        "worker_cpu_seconds": worker_ticks / CLOCK_TICKS,
        "sink_cpu_seconds": sink_ticks / CLOCK_TICKS,
        "background_cpu_busy": busy,
        "problems": recipient_problems(dump["recipients"], set(bench.emails))
        + outcome_problems(outcome, bench.subscribers),
        "outcome": outcome,
    }


def sink_pace(bench: Bench, sample: dict[str, str]) -> dict[str, Any]:
    """The sink's own pace: a plain smtplib loop, one connection, one copy per subscriber."""
    sink = bench.sink
    sink.ask("reset")
    content = base64.b64decode(sample["content"])
    busy = cpu_busy_share()
    sink_before, cpu_before, began = sink.cpu_ticks(), time.process_time(), time.time()
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=30) as smtp:
        for address in bench.emails:
            smtp.sendmail(sample["mail_from"], [address], content)
    ended = time.time()
    client_cpu, sink_ticks = time.process_time() - cpu_before, sink.cpu_ticks() - sink_before
    dump = sink.ask("dump")
    return {
        "message_bytes": len(content),
        "loop_seconds": ended - began,
        **arrivals(dump),
        "client_cpu_seconds": client_cpu,
        "sink_cpu_seconds": sink_ticks / CLOCK_TICKS,
        "background_cpu_busy": busy,
        "problems": recipient_problems(dump["recipients"], set(bench.emails)),
    }


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    """Set up, run the sending runs, the sink's pace and the profile; everything measured."""
    started = time.monotonic()
    source = source_state()
    subscribers = args.subscribers
    townhall = townhall_peer.townhall_bin()
    python = townhall.parent / "python"
    with tempfile.TemporaryDirectory(prefix="bench-notifications-") as tmp:
        workdir = Path(tmp)
        sink = Sink(python, workdir)
        try:
            env = {
                **townhall_peer.server_env(workdir),
                "TOWNHALL_EMAIL_URL": f"smtp://127.0.0.1:{sink.port}",
                "PYTHONUNBUFFERED": "1",
            }
            print(f"setup: migrate, site, thread, {subscribers:,} subscribers ...", flush=True)
            townhall_peer.prepare(townhall, env, workdir)
            bench = Bench(python, townhall, env, workdir, sink, subscribers, [])
            setup = bench.app("setup", str(subscribers))
            bench.emails = setup.pop("emails")
            if setup["subscribers"] != subscribers or len(set(bench.emails)) != subscribers:
                raise BenchError(f"setup made {setup['subscribers']} subscribers")
            runs, sample = [], None
            for workers in WORKER_COUNTS:
                print(f"{workers} worker(s): one reply, fan-out and sending ...", flush=True)
                runs.append(send_run(bench, workers))
                print_run(runs[-1])
                if sample is None:
                    sample = sink.ask("sample")["sample"]
            assert sample is not None
            print("the sink's pace: plain smtplib loop ...", flush=True)
            pace = sink_pace(bench, sample)
            print(
                "profile: two more fan-outs and send batches, cProfile and sampled ...", flush=True
            )
            profile = bench.app("profile")
        finally:
            sink.close()
    return {
        "subscribers": subscribers,
        "source": source,
        "versions": setup.pop("versions"),
        "setup": setup,
        "runs": runs,
        "sink_pace": pace,
        "profile": profile,
        "seconds": round(time.monotonic() - started, 1),
    }


# ---- results ----------------------------------------------------------------------------------


def print_run(run: dict[str, Any]) -> None:
    print(
        f"  fan-out {run['fan_out_seconds']:.3f} s ({run['deliveries_recorded']:,} deliveries, "
        f"{run['batches_queued']} batches); {run['messages']:,} messages in "
        f"{run['send_seconds']:.1f} s = {run['messages_per_sec']:.0f}/s"
        + (f"; PROBLEMS: {'; '.join(run['problems'])}" if run["problems"] else ""),
        flush=True,
    )


def worker_label(workers: int) -> str:
    return f"{workers} worker{'s' if workers != 1 else ''}"


QUEUE_HEADERS = [
    "Run",
    "Fan-out task (s)",
    "Commit → task start (s)",
    "Commit → all queued (s)",
    "Deliveries recorded",
    "Batches queued",
]


def queue_rows(measured: dict[str, Any]) -> list[list[str]]:
    return [
        [
            worker_label(r["workers"]),
            f"{r['fan_out_seconds']:.3f}",
            f"{r['pickup_seconds']:.3f}",
            f"{r['queued_seconds']:.3f}",
            f"{r['deliveries_recorded']:,}",
            str(r["batches_queued"]),
        ]
        for r in measured["runs"]
    ]


SEND_HEADERS = [
    "Sender",
    "Messages",
    "Commit → last message (s)",
    "First → last message (s)",
    "Messages/s",
    "Of the sink's pace",
    "Sender CPU (s)",
    "Sink CPU (s)",
]


def pace_ratio(run: dict[str, Any], measured: dict[str, Any]) -> float:
    reference = measured["sink_pace"]["messages_per_sec"]
    return float(run["messages_per_sec"] / reference) if reference else 0.0


def send_rows(measured: dict[str, Any], markdown: bool = True) -> list[list[str]]:
    code = "`" if markdown else ""
    rows = [
        [
            f"{code}townhall worker{code} {TIMES} {r['workers']}",
            f"{r['messages']:,}",
            report.number(r["last_message_seconds"]),
            report.number(r["send_seconds"]),
            report.number(r["messages_per_sec"]),
            report.ratio(pace_ratio(r, measured)),
            report.number(r["worker_cpu_seconds"]),
            report.number(r["sink_cpu_seconds"]),
        ]
        for r in measured["runs"]
    ]
    p = measured["sink_pace"]
    rows.append(
        [
            "smtplib loop, 1 connection (the sink's pace)",
            f"{p['messages']:,}",
            "n/a",
            report.number(p["send_seconds"]),
            report.number(p["messages_per_sec"]),
            report.ratio(1.0),
            report.number(p["client_cpu_seconds"]),
            report.number(p["sink_cpu_seconds"]),
        ]
    )
    return rows


TREE_HEADERS = ["Call (sampled stacks)", "Seconds", "Share"]
OWN_HEADERS = ["Function (cProfile)", "Calls", "Own time (s)", "Cumulative (s)"]
OWN_ROWS = 8  # functions listed by own time


def tree_rows(part: dict[str, Any], markdown: bool = True) -> list[list[str]]:
    """The sampled call tree of a profiled task, indented, with each call's share of the task."""
    total = part["tree"][0]["seconds"] if part["tree"] else 0.0
    rows = []
    for row in part["tree"]:
        indent = ("· " if markdown else "  ") * row["depth"]
        name = f"`{row['function']}`" if markdown else row["function"]
        share = f"{row['seconds'] / total:.0%}" if total else "n/a"
        rows.append([f"{indent}{name}", f"{row['seconds']:.3f}", share])
    return rows


def own_rows(part: dict[str, Any], markdown: bool = True) -> list[list[str]]:
    """The functions with the most own time under cProfile, with their exact call counts."""
    code = "`" if markdown else ""
    return [
        [
            f"{code}{row['function']}{code}",
            f"{row['calls']:,}",
            f"{row['own_seconds']:.3f}",
            f"{row['cumulative_seconds']:.3f}",
        ]
        for row in part["own"][:OWN_ROWS]
    ]


def sql_line(part: dict[str, Any]) -> str:
    """The SQL statements of a profiled task, by kind: count and time spent executing them."""
    return "; ".join(
        f"{row['count']:,} {TIMES} `{row['statement']}` {row['seconds']:.3f} s"
        for row in part["sql"]
    )


def problems(measured: dict[str, Any]) -> list[str]:
    found = [
        f"{worker_label(r['workers'])}: {problem}"
        for r in measured["runs"]
        for problem in r["problems"]
    ]
    found += [f"sink's pace: {problem}" for problem in measured["sink_pace"]["problems"]]
    return found


def size_note(measured: dict[str, Any]) -> str:
    n = measured["subscribers"]
    return "" if n == SUBSCRIBERS else f"; measured with {n:,} subscribers, not {SUBSCRIBERS:,}"


def queue_verdict(measured: dict[str, Any], markdown: bool = True) -> str:
    bold = "**" if markdown else ""
    runs = measured["runs"]
    worst = max(r["fan_out_seconds"] for r in runs)
    met = worst < QUEUE_TARGET_S and not problems(measured)
    each = ", ".join(
        f"{r['fan_out_seconds']:.2f} s with {worker_label(r['workers'])}" for r in runs
    )
    commit = ", ".join(f"{r['queued_seconds']:.2f} s" for r in runs)
    return (
        f"{measured['subscribers']:,} deliveries recorded and all their send batches queued "
        f"in under {QUEUE_TARGET_S:.0f} s by the fan-out task, in every run: {bold}"
        f"{'met' if met else 'not met'}{bold} (fan-out task {each}; from the commit, "
        f"including the wait for a polling worker to pick it up: {commit}){size_note(measured)}"
    )


def pace_verdict(measured: dict[str, Any], markdown: bool = True) -> str:
    bold = "**" if markdown else ""
    ratios = {r["workers"]: pace_ratio(r, measured) for r in measured["runs"]}
    best = max(ratios, key=ratios.__getitem__)
    met = ratios[best] >= PACE_TARGET and not problems(measured)
    each = ", ".join(
        f"{worker_label(w)} {report.number(r['messages_per_sec'])}/s = {ratio:.2f}{TIMES}"
        for w, ratio, r in zip(ratios, ratios.values(), measured["runs"], strict=True)
    )
    return (
        f"sent at the sink's pace, taken as at least {PACE_TARGET:.0%} of the messages/s the "
        f"sink accepts from a plain loop, by the better of 1 and 2 workers: {bold}"
        f"{'met' if met else 'not met'}{bold} ({each} the sink's "
        f"{report.number(measured['sink_pace']['messages_per_sec'])}/s){size_note(measured)}"
    )


PROFILED = (("fan_out", "the fan-out"), ("send", "one send batch"))


def print_results(measured: dict[str, Any]) -> None:
    print()
    print(report.text_table(QUEUE_HEADERS, queue_rows(measured)))
    print()
    print(report.text_table(SEND_HEADERS, send_rows(measured, markdown=False)))
    prof = measured["profile"]
    for key, title in PROFILED:
        sampled, cprofiled = prof[f"{key}_sampled"], prof[f"{key}_cprofile"]
        print(f"\nWhere the time goes, {title} ({sampled['seconds']:.2f} s, sampled):")
        print(report.text_table(TREE_HEADERS, tree_rows(sampled, markdown=False)))
        print(f"SQL: {sql_line(sampled)}")
        print(f"\nMost own time under cProfile ({cprofiled['seconds']:.2f} s under it):")
        print(report.text_table(OWN_HEADERS, own_rows(cprofiled, markdown=False)))
    print()
    print(profile_summary(measured, markdown=False))
    for problem in problems(measured):
        print(f"CHECK FAILED: {problem}")
    print(f"\nTarget: {queue_verdict(measured, markdown=False)}")
    print(f"Target: {pace_verdict(measured, markdown=False)}")


def tree_seconds(part: dict[str, Any], name: str, depth: int | None = None) -> float | None:
    """Seconds of the first call in a profile tree to a function called `name` (`sendmail`, or
    with its file, `smtplib.py:sendmail`), whatever class it belongs to."""
    for row in part["tree"]:
        path, qualname = row["function"].rsplit(":", 1)
        called = f"{path.rsplit('/', 1)[-1]}:{qualname.rsplit('.', 1)[-1]}"
        if (called == name or called.endswith(f":{name}")) and depth in (None, row["depth"]):
            return float(row["seconds"])
    return None


def sql_seconds(part: dict[str, Any], statement: str) -> tuple[int, float]:
    for row in part["sql"]:
        if row["statement"] == statement:
            return int(row["count"]), float(row["seconds"])
    return 0, 0.0


SEND_PARTS = [
    (
        "building it (`emails.notification_message`: templates, links, tokens)",
        "notification_message",
    ),
    ("marking it sent (`actions.do_mark_sent`, a transaction each)", "do_mark_sent"),
    ("claiming the batch (`actions.claim_deliveries`)", "claim_deliveries"),
]


def profile_summary(measured: dict[str, Any], markdown: bool = True) -> str:
    """A few lines computed from the sampled profiles: the largest parts of each task."""
    prof = measured["profile"]
    fan, send = prof["fan_out_sampled"], prof["send_sampled"]

    def code(text: str) -> str:
        return text if markdown else text.replace("`", "")

    lines = []
    if fan["tree"]:
        total = fan["tree"][0]["seconds"]
        bulk = tree_seconds(fan, "bulk_create")
        count, insert = sql_seconds(fan, "INSERT townhall_notifications_delivery")
        if bulk is not None:
            lines.append(
                code(
                    f"- Fan-out: `Delivery.objects.bulk_create` takes {bulk:.2f} s of "
                    f"{total:.2f} s ({bulk / total:.0%}); executing its {count} statements "
                    f"takes {insert:.3f} s of that, the rest is Django turning "
                    f"{measured['subscribers']:,} model instances into SQL parameters in Python."
                )
            )
    if send["tree"]:
        batch, total = prof["batch"], send["tree"][0]["seconds"]
        sink_ms = 1000 / measured["sink_pace"]["messages_per_sec"]

        def ms(seconds: float) -> str:
            return f"{seconds / batch * 1000:.2f} ms"

        lines.append(
            f"- Sending, per message, in a batch of {batch}: {ms(total)} in all, where the sink "
            f"alone takes a message every {sink_ms:.2f} ms:"
        )
        smtp = tree_seconds(send, "send_messages", depth=1)
        exchange = tree_seconds(send, "smtplib.py:sendmail")
        if smtp is not None and exchange is not None:
            lines.append(
                code(
                    f"  - {ms(smtp)} sending it (`send_messages`): {ms(smtp - exchange)} "
                    f"building and serializing the MIME message, {ms(exchange)} in the SMTP "
                    "exchange with the sink (`smtplib.sendmail`)"
                )
            )
        for text, name in SEND_PARTS:
            seconds = tree_seconds(send, name, depth=1)
            if seconds is not None:
                lines.append(code(f"  - {ms(seconds)} {text}"))
    return "\n".join(lines)


def method_markdown(env: dict[str, Any], measured: dict[str, Any]) -> str:
    v, n = measured["versions"], measured["subscribers"]
    setup, pace, prof = measured["setup"], measured["sink_pace"], measured["profile"]
    batches = math.ceil(n / BATCH)
    fan_times = sorted(r["fan_out_seconds"] for r in measured["runs"])
    fan_measured = (
        f"{fan_times[0]:.2f} s"
        if f"{fan_times[0]:.2f}" == f"{fan_times[-1]:.2f}"
        else f"{fan_times[0]:.2f} to {fan_times[-1]:.2f} s"
    )
    busy = ", ".join(
        [
            *(
                f"{worker_label(r['workers'])} {r['background_cpu_busy']:.0%}"
                for r in measured["runs"]
            ),
            f"sink's pace {pace['background_cpu_busy']:.0%}",
        ]
    )
    return "\n".join(
        [
            f"- **Setup**: a fresh SQLite database in a temporary directory (`TOWNHALL_VAR_DIR`, "
            "`TOWNHALL_DATABASE_URL=sqlite:///...`, `TOWNHALL_RATELIMIT=0`, `TOWNHALL_DEBUG=0`, "
            "no Redis, `TOWNHALL_EMAIL_URL=smtp://127.0.0.1:PORT`): `townhall migrate`, "
            "`townhall createsite`, then `bench/notifications_app.py setup` in the project's "
            "Python with the same environment: the article's thread with one root comment "
            f"(posted with `do_post_comment`) and {n:,} subscribers, confirmed, immediate mail, "
            "each with a `thread` subscription, inserted with `bulk_create` "
            f"({setup['seconds']:.1f} s, not measured).",
            f"- **SMTP sink**: aiosmtpd {v.get('aiosmtpd', '?')} (`Controller`) in its own "
            "process on 127.0.0.1 (`bench/smtp_sink.py`): answers 250 to every message and "
            "records its arrival time and envelope recipients.",
            "- **The comment**: each run posts one reply to the root comment through the real "
            "path, `do_post_comment` in a transaction (`bench/notifications_app.py post`), by "
            "an author who follows nothing; on commit `comment_published` queues "
            "`fan_out_comment`. The helper checks that exactly that task was queued and "
            "records the commit's time (an `on_commit` callback registered before the reply's).",
            "- **Queueing**: timed by the worker itself. The workers are started, and idle, "
            "before the commit; the first to poll claims `fan_out_comment`. Its `DBTaskResult` "
            "`started_at` (set when claimed) and `finished_at` (set when it returned, after "
            f"recording {n:,} deliveries with `bulk_create` and queueing {batches} "
            f"`send_deliveries` tasks of {BATCH}) give the fan-out's time. This is the "
            "production path (django-tasks' own worker, in a process that has run no task "
            "before), and the queue is left as the comment left it, so the same fan-out feeds "
            "the sending measurement; calling `fan_out_comment.call()` would have queued the "
            "batches a second time. The wait between the commit and the pick-up depends on "
            "the workers' poll interval (`townhall worker --interval`, default 1 s) and is "
            "shown apart.",
            f"- **Sending**: `townhall worker` {TIMES} 1, then {TIMES} 2 (separate processes), "
            f"each run on its own reply, so with {n:,} new deliveries; a run ends when the sink "
            f"has a message for each of the {n:,} subscribers, then the workers get SIGTERM "
            "(each finishes its task). Times are from the commit, and from the first message "
            "to the last at the sink; messages/s is the messages after the first divided by "
            "that. CPU is user + system time of the workers (from `/proc`, from their start "
            "of polling to the last message) and of the sink.",
            f"- **The sink's pace**: the same sink, fed by a plain `smtplib` loop in the harness "
            f"(Python {env['harness_python']}) over one connection: {n:,} copies of the first "
            f"message Townhall sent ({pace['message_bytes']:,} bytes with its headers, text "
            "and HTML parts), one per subscriber, timed the same way at the sink.",
            f"- **Checks**, every run: the sink got {n:,} messages, each to one recipient, and "
            f"the recipients are the {n:,} subscribers' addresses, each exactly once; in the "
            f"database the fan-out task succeeded and returned {n:,}, its {batches} batches "
            f"cover {n:,} distinct deliveries and all succeeded, and every delivery is `sent` "
            "after one attempt.",
            "- **Profile**: after the runs, two more replies' fan-outs, each followed by its "
            f"first batch of {prof['batch']}, are run in the helper's process "
            "(`bench/notifications_app.py profile`): once under cProfile, for exact call "
            "counts and each function's own time, and once under a sampling profiler that "
            "records the whole call stack every 0.5 ms of wall-clock time, for a call tree "
            "(cProfile only keeps caller-callee pairs, so it cannot tell which caller of a "
            "shared function such as Django's `manager_method` the time belongs to), with every "
            "SQL statement's execution timed. cProfile slows this code down "
            f"(fan-out {prof['fan_out_cprofile']['seconds']:.2f} s under it), the sampler much "
            f"less ({prof['fan_out_sampled']['seconds']:.2f} s; {fan_measured} in the "
            "measured runs). One message is built before each batch, so that importing the "
            "URLconf and loading the templates, once per process, stay out, as in a running "
            "worker. Those replies' other batches and their deliveries are then removed, so no "
            "worker sends them.",
            "- **Clock**: every time is the machine's wall clock: `time.time()` in the sink and "
            "the helper, Django's `timezone.now()` in the database.",
            "- **Background load**: CPU share busy with other work in the second before each "
            f"measurement: {busy}.",
        ]
    )


def source_note(measured: dict[str, Any]) -> str:
    source = measured["source"]
    changes = source["townhall_changes"]
    if not changes:
        return f"commit {source['commit']}"
    return (
        f"commit {source['commit']} with uncommitted changes in "
        f"{', '.join(f'`{path}`' for path in changes)}"
    )


def section_markdown(env: dict[str, Any], measured: dict[str, Any]) -> str:
    """The whole docs/benchmarks.md section for this benchmark."""
    m, v, n = env["machine"], measured["versions"], measured["subscribers"]
    found = problems(measured)
    check = (
        "**Checks failed**: " + "; ".join(found)
        if found
        else f"Checks passed in every run: {n:,} distinct recipients, each exactly once; every "
        "delivery sent, every batch task successful."
    )
    noisy = [
        worker_label(r["workers"])
        for r in measured["runs"]
        if r["background_cpu_busy"] > BUSY_WARNING
    ]
    if measured["sink_pace"]["background_cpu_busy"] > BUSY_WARNING:
        noisy.append("the sink's pace")
    noise = (
        f"\n**Noisy run**: other work kept the machine over {BUSY_WARNING:.0%} busy before "
        f"{', '.join(noisy)} (see Method); rerun on a quiet machine.\n"
        if noisy
        else ""
    )
    prof = measured["profile"]
    fan, send = prof["fan_out_sampled"], prof["send_sampled"]
    fan_c, send_c = prof["fan_out_cprofile"], prof["send_cprofile"]
    return f"""
## Notifications: one comment on a thread with {n:,} subscribers

- **Date**: {env["date"]}
- **Machine**: {m["cpu"]}, {m["cores"]} cores, {m["ram_gib"]} GiB RAM, {m["os"]}, \
kernel {m["kernel"]}
- **Software**: harness on Python {env["harness_python"]}; Townhall {v["townhall"]} \
({source_note(measured)}) on Python {v["python"]}, Django {v["django"]}, django-tasks \
{v["django-tasks"]}, django-tasks-db {v["django-tasks-db"]}, SQLite {v["sqlite"]}; aiosmtpd \
{v["aiosmtpd"]}

### Command

```sh
{env["command"]}
```

(`python bench/run.py --benchmark notifications` reruns this section alone; it took \
{measured["seconds"]:.0f} s.)

### Method

{method_markdown(env, measured)}

### Results

Queueing: from the reply's commit to all {n:,} deliveries recorded and all send batches queued.

{report.table(QUEUE_HEADERS, queue_rows(measured))}

Sending, until the sink had a message for every subscriber:

{report.table(SEND_HEADERS, send_rows(measured))}

{check}
{noise}
### Where the time goes

{profile_summary(measured)}

The fan-out (`fan_out_comment`), sampled, {fan["seconds"]:.2f} s; calls under 2% left out, \
library calls opened when they take 10% or more:

{report.table(TREE_HEADERS, tree_rows(fan))}

SQL statements it executed (time in `execute`, not fetching rows): {sql_line(fan)}.

Most own time under cProfile ({fan_c["seconds"]:.2f} s under it):

{report.table(OWN_HEADERS, own_rows(fan_c))}

One send batch (`send_deliveries`, {prof["batch"]} messages), sampled, {send["seconds"]:.2f} s:

{report.table(TREE_HEADERS, tree_rows(send))}

SQL statements it executed: {sql_line(send)}.

Most own time under cProfile ({send_c["seconds"]:.2f} s under it):

{report.table(OWN_HEADERS, own_rows(send_c))}

### Targets

- Queueing: {queue_verdict(measured)}.
- Sending: {pace_verdict(measured)}.
"""
