"""Benchmark: the moderation pipeline's throughput on one core, with the classifier on.

The target: "`make bench` reports pipeline throughput on one core (target: at
least 1,000 comments per second with the classifier on)".

Setup: a fresh SQLite database in a temporary directory (`townhall migrate`,
`townhall createsite`, as for the other benchmarks; TOWNHALL_VAR_DIR there
too, so the toxicity table is compiled into it), then, in the project's
Python with the same environment (bench/moderation_app.py `setup`), the
site's rules (about 200 banned and 200 suspect words and phrases, max_links 3,
toxicity threshold 0.9, no Akismet key) and a history for the pipeline's
queries to read: threads, commenters, thousands of comments from many clients
over two days, a few clients posting fast, bans in force, expired and lifted.
It also writes the plan: 5,000 comment texts generated with a seed (short and
long, some links, some profanity, insults, suspect and banned words, some
repeats of the sender's own recent comment) and who sends each (returning
readers with and without a token, new readers, banned readers).

Each measurement runs in its own process, pinned to one core
(`os.sched_setaffinity`) before Django starts:

- `pipeline`: `run_pipeline` on every comment with the compiled table (which
  this process compiles first, in a child process, as a server would), each
  call timed; each step of the pipeline alone and the SQL it runs (count,
  SQLite's execution time, query plans); the classifier alone. This process
  never imports scikit-learn, which is checked.
- `library`: alt-profanity-check's own `predict_prob([text])` per comment,
  alone, batched (`predict_prob(list)`), and in place of the table inside
  `run_pipeline`: the reference that shows why the table is compiled.
- `post`: `do_post_comment`, the whole write path, on 2,000 of the comments.

Scores of the table and of the library are compared text by text; the peak
memory of the two processes, with and without scikit-learn, is read from
/proc. Run through `python bench/run.py --benchmark moderation`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import report
import townhall_peer
from notifications import source_state
from report import TIMES
from support import BENCH_DIR, BUSY_WARNING, BenchError, cpu_busy_share

BENCH_KEY = "moderation"
TARGET_PER_SEC = 1000  # run_pipeline, one core, classifier on
TOLERANCE = 1e-9  # the compiled table's score may differ from the library's by at most this
CPU_SHARE_WARNING = 0.9  # a timed loop that got less of its core than this was shared
APP = BENCH_DIR / "moderation_app.py"
APP_TIMEOUT_S = 240.0


@dataclass
class Bench:
    """The project's Python, the environment of the fresh database, its directory."""

    python: Path
    env: dict[str, str]
    workdir: Path

    def app(self, command: str) -> dict[str, Any]:
        """Run one command of bench/moderation_app.py; its JSON answer."""
        argv = [str(self.python), "-P", str(APP), command]
        try:
            result = subprocess.run(
                argv,
                env=self.env,
                cwd=self.workdir,
                capture_output=True,
                text=True,
                timeout=APP_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise BenchError(f"`moderation_app.py {command}` timed out") from error
        if result.returncode != 0 or not result.stdout.strip():
            tail = "\n".join((result.stderr or result.stdout).splitlines()[-20:])
            raise BenchError(
                f"`moderation_app.py {command}` failed (exit code {result.returncode}):\n{tail}"
            )
        return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def accuracy(compiled: list[float], per_call: list[float], batched: list[float]) -> dict[str, Any]:
    """How many texts the table scores differently from the library, and by how much at most."""

    def compare(library: list[float]) -> dict[str, Any]:
        gaps = [abs(a - b) for a, b in zip(compiled, library, strict=True)]
        differ = sum(gap > TOLERANCE for gap in gaps)
        return {"texts": len(gaps), "differ": differ, "share": differ / len(gaps), "max": max(gaps)}

    return {"per_call": compare(per_call), "batched": compare(batched)}


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    """Set up the database and the plan, then the three measuring processes; all measured."""
    started = time.monotonic()
    source = source_state()
    townhall = townhall_peer.townhall_bin()
    with tempfile.TemporaryDirectory(prefix="bench-moderation-") as tmp:
        workdir = Path(tmp)
        # The pipeline's fast-new-commenter rule is off with the rate limits: on, as in
        # production (the rate limits themselves are in the API, which is not called here).
        env = {**townhall_peer.server_env(workdir), "TOWNHALL_RATELIMIT": "1"}
        env.pop("TOWNHALL_MODEL_DIR", None)  # the default: TOWNHALL_VAR_DIR/models, fresh
        bench = Bench(townhall.parent / "python", env, workdir)
        print("setup: migrate, site and rules, history, 5,000 comments to moderate ...", flush=True)
        townhall_peer.prepare(townhall, env, workdir)
        setup = bench.app("setup")
        busy = {}
        print("pipeline with the compiled table (compiled first) ...", flush=True)
        busy["pipeline"] = cpu_busy_share()
        compiled = bench.app("pipeline")
        print_row("run_pipeline", compiled["pipeline"]["timing"])
        print("the library's predict_prob: alone, batched, in the pipeline ...", flush=True)
        busy["library"] = cpu_busy_share()
        library = bench.app("library")
        print_row("run_pipeline (library)", library["pipeline"]["timing"])
        print("do_post_comment end to end ...", flush=True)
        busy["post"] = cpu_busy_share()
        post = bench.app("post")
        print_row("do_post_comment", post["timing"])
    scores = accuracy(
        compiled["classifier"].pop("scores"),
        library["classifier"].pop("scores"),
        library["batched"].pop("scores"),
    )
    same_verdicts = [v[:2] for v in compiled["pipeline"].pop("verdicts")] == [
        v[:2] for v in library["pipeline"].pop("verdicts")
    ]
    return {
        "source": source,
        "versions": setup.pop("versions"),
        "setup": setup,
        "compiled": compiled,
        "library": library,
        "post": post,
        "accuracy": scores,
        "same_verdicts": same_verdicts,
        "background_cpu_busy": busy,
        "seconds": round(time.monotonic() - started, 1),
    }


# ---- results ----------------------------------------------------------------------------------


def print_row(name: str, timing: dict[str, Any]) -> None:
    print(
        f"  {name}: {timing['per_second']:,.0f}/s, p50 {timing['p50_us']:,.0f} µs, "
        f"p99 {timing['p99_us']:,.0f} µs",
        flush=True,
    )


HEADERS = [
    "What is timed",
    "Classifier",
    "Comments/s",
    "p50 (µs)",
    "p99 (µs)",
    "Mean (µs)",
    "CPU share",
]


def us(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def timing_row(what: str, classifier: str, t: dict[str, Any]) -> list[str]:
    return [
        what,
        classifier,
        f"{t['per_second']:,.0f}",
        us(t["p50_us"]),
        us(t["p99_us"]),
        us(t["mean_us"]),
        f"{t['cpu_share']:.0%}",
    ]


def rows(measured: dict[str, Any], markdown: bool = True) -> list[list[str]]:
    code = "`" if markdown else ""
    c, lib, post = measured["compiled"], measured["library"], measured["post"]
    batched = lib["batched"]
    table, per_call = "compiled table", f"library, {code}predict_prob([text]){code}"
    return [
        timing_row(f"{code}run_pipeline{code}, every rule", table, c["pipeline"]["timing"]),
        timing_row(
            f"{code}run_pipeline{code}, every rule (reference)", per_call, lib["pipeline"]["timing"]
        ),
        timing_row("classifier alone", table, c["classifier"]["timing"]),
        timing_row("classifier alone", per_call, lib["classifier"]["timing"]),
        [
            "classifier alone",
            f"library, {code}predict_prob(list){code} of {batched['texts']:,}, per text",
            f"{batched['per_second']:,.0f}",
            "n/a",
            "n/a",
            us(batched["mean_us"]),
            "n/a",
        ],
        timing_row(
            f"{code}do_post_comment{code} end to end ({post['posts']:,} posts), SQLite",
            table,
            post["timing"],
        ),
    ]


def step_rows(measured: dict[str, Any], markdown: bool = True) -> list[list[str]]:
    code = "`" if markdown else ""
    out = []
    for step in measured["compiled"]["steps"]:
        name, _, note = step["step"].partition(" (")
        label = f"{code}{name}{code}" + (f" ({note}" if note else "")
        out.append([label, us(step["mean_us"])])
    return out


def mib(kib: int) -> str:
    return f"{kib / 1024:.1f}"


MEMORY_HEADERS = [
    "Process",
    "scikit-learn imported",
    "After Django setup (MiB)",
    "Comments loaded (MiB)",
    "Classifier ready (MiB)",
    "The classifier's share (MiB)",
    "Peak, after the pipeline run (MiB)",
]


def memory_rows(measured: dict[str, Any]) -> list[list[str]]:
    out = []
    for key, name in (("compiled", "compiled table"), ("library", "library (alt-profanity-check)")):
        part = measured[key]
        m = part["memory"]
        ready, before = m["after_classifier"]["rss_kib"], m["before_classifier"]["rss_kib"]
        out.append(
            [
                name,
                "yes" if part["sklearn_imported"] else "no",
                mib(m["after_django"]["rss_kib"]),
                mib(before),
                mib(ready),
                mib(ready - before),
                mib(m["after_pipeline"]["peak_kib"]),
            ]
        )
    return out


def saved_mib(measured: dict[str, Any]) -> float:
    peak = {k: measured[k]["memory"]["after_pipeline"]["peak_kib"] for k in ("compiled", "library")}
    return (peak["library"] - peak["compiled"]) / 1024


def throughput(measured: dict[str, Any]) -> float:
    return float(measured["compiled"]["pipeline"]["timing"]["per_second"])


def verdict(measured: dict[str, Any], markdown: bool = True) -> str:
    bold = "**" if markdown else ""
    rate = throughput(measured)
    met = "met" if rate >= TARGET_PER_SEC else "not met"
    return (
        f"Pipeline throughput on one core with the classifier on: ≥ {TARGET_PER_SEC:,} "
        f"comments/s: {bold}{met}{bold} ({rate:,.0f}/s)"
    )


def accuracy_line(measured: dict[str, Any], markdown: bool = True) -> str:
    bold, code = ("**", "`") if markdown else ("", "")
    a = measured["accuracy"]
    per_call, batched = a["per_call"], a["batched"]
    met = per_call["differ"] == 0 and batched["differ"] == 0
    return (
        f"Compiled table equal to the library to {TOLERANCE:g} on every text: {bold}"
        f"{'met' if met else 'not met'}{bold} ({per_call['differ']} of {per_call['texts']:,} "
        f"texts differ from {code}predict_prob([text]){code} by more than {TOLERANCE:g}, a "
        f"share of {per_call['share']:.4f}; largest difference {per_call['max']:.1e}; "
        f"{batched['differ']} differ from the batched call, largest {batched['max']:.1e})"
    )


def speedups(measured: dict[str, Any]) -> str:
    c, lib = measured["compiled"], measured["library"]
    table = c["classifier"]["timing"]["mean_us"]
    return (
        f"The table scores a comment {lib['classifier']['timing']['mean_us'] / table:,.0f}{TIMES} "
        "faster than the library called for that one comment; with the library, the pipeline "
        f"runs {lib['pipeline']['timing']['per_second']:,.0f} comments/s instead of "
        f"{c['pipeline']['timing']['per_second']:,.0f}. Batched, the library takes "
        f"{lib['batched']['mean_us']:.1f} µs per text (the table {table:.1f} µs), but a server "
        "scores each comment alone, when it is posted."
    )


# The steps that read the database (bans from a per-process copy, read again every 2 s).
QUERY_STEPS = ("banned", "repeated + fast_new_commenter")


def sql_summary(measured: dict[str, Any], markdown: bool = True) -> list[str]:
    code = "`" if markdown else ""
    sql, steps = measured["compiled"]["sql"], measured["compiled"]["steps"]
    total = sum(s["mean_us"] for s in steps)
    queries = sum(s["mean_us"] for s in steps if s["step"] in QUERY_STEPS)
    lines = [
        f"The steps that read the database ({', '.join(QUERY_STEPS)}) take "
        f"{queries:,.0f} µs of the {total:,.0f} µs all steps add up to ({queries / total:.0%}); "
        f"the classifier {next(s['mean_us'] for s in steps if s['step'] == 'toxicity'):.0f} µs.",
        "",
        f"On the plan's first {sql['comments']:,} comments: "
        f"{sql['per_comment']:.2f} SQL statements per comment; SQLite executes them in "
        f"{sql['execute_us_per_comment']:,.0f} µs of the {sql['pipeline_us_per_comment']:,.0f} µs "
        "a comment took in that pass (execution timed with a Django execute wrapper); the rest "
        "of each query step is Django building the query and the model instances. By kind:",
        "",
    ]
    for kind, s in measured["compiled"]["sql"]["statements"].items():
        plan = "; ".join(f"{code}{line}{code}" for line in s["plan"])
        lines.append(
            f"- {code}{kind}{code}: {s['count']:,} statements, {s['execute_us']:.0f} µs each to "
            f"execute; plan: {plan}"
        )
    return lines


def outcome_line(measured: dict[str, Any]) -> str:
    s = measured["compiled"]["pipeline"]["summary"]
    actions = ", ".join(f"{n:,} {a}" for a, n in sorted(s["actions"].items()))
    rules = ", ".join(f"{r} {n:,}" for r, n in sorted(s["rules"].items(), key=lambda i: -i[1]))
    post = ", ".join(f"{o} {n:,}" for o, n in sorted(measured["post"]["outcomes"].items()))
    return (
        f"Verdicts of the {sum(s['actions'].values()):,} comments: {actions}; rules that fired: "
        f"{rules}; {s['scored']:,} scored by the classifier (those refused by a ban or a banned "
        f"word stop before it). The library's run gave every comment the same action, for the "
        f"same rules: {'yes' if measured['same_verdicts'] else 'NO'}. End to end: {post}."
    )


def print_results(measured: dict[str, Any]) -> None:
    print()
    print(report.text_table(HEADERS, rows(measured, markdown=False), text_columns=2))
    print()
    print(speedups(measured))
    print()
    steps = step_rows(measured, markdown=False)
    print(report.text_table(["Step (each alone)", "Mean (µs)"], steps))
    print()
    print("\n".join(sql_summary(measured, markdown=False)))
    print()
    print(report.text_table(MEMORY_HEADERS, memory_rows(measured), text_columns=2))
    print(f"memory saved by the compiled table: {saved_mib(measured):.0f} MiB at peak")
    print()
    print(outcome_line(measured))
    print()
    print(accuracy_line(measured, markdown=False))
    print(verdict(measured, markdown=False))


def method_markdown(measured: dict[str, Any]) -> str:
    setup, v = measured["setup"], measured["versions"]
    r, h, p = setup["rules"], setup["history"], setup["plan"]
    c, lib, post = measured["compiled"], measured["library"], measured["post"]
    model = c["model"]
    busy = ", ".join(f"{k} {share:.0%}" for k, share in measured["background_cpu_busy"].items())
    kinds = ", ".join(
        f"{p.get(key, 0):,} {label}"
        for key, label in (
            ("link", "with one link"),
            ("many_links", f"with more than {r['max_links']} links"),
            ("profane", "with profanity mixed in"),
            ("insult", "short insults"),
            ("suspect", "with a suspect word or phrase"),
            ("banned", "with a banned word or phrase"),
            ("repeat", "repeating the sender's own comment of the last day"),
        )
    )
    readers = ", ".join(
        f"{p.get(key, 0):,} {label}"
        for key, label in (
            ("returning_reader", "from returning readers (with their token when they have one)"),
            ("new_reader", "from new readers"),
            ("banned_reader", "from banned readers"),
            ("flooder", "from the clients posting fast"),
        )
    )
    return "\n".join(
        [
            "- **Setup**: a fresh SQLite database in a temporary directory "
            "(`TOWNHALL_VAR_DIR`, `TOWNHALL_DATABASE_URL=sqlite:///...`, `TOWNHALL_DEBUG=0`, no "
            "Redis, `TOWNHALL_MODEL_DIR` unset, so the table goes to `TOWNHALL_VAR_DIR/models/`; "
            "`TOWNHALL_RATELIMIT=1`, since the pipeline's fast-new-commenter rule is off with the "
            "rate limits): `townhall migrate`, `townhall createsite`, then "
            "`bench/moderation_app.py setup` in the project's Python with the same environment "
            f"({setup['seconds']:.1f} s, not measured).",
            f"- **The site's rules**: {r['banned_words']} banned words and phrases "
            f"({r['banned_phrases']} of them phrases: spam), {r['suspect_words']} suspect ones "
            f"({r['suspect_phrases']} phrases: insults, threats, doxxing), max_links "
            f"{r['max_links']}, toxicity threshold {r['toxicity_threshold']}, new-commenter "
            f"burst {r['new_commenter_burst']}, moderation mode `{r['moderation_mode']}`. "
            "**Akismet off**: it is a network service (one HTTPS request per comment to "
            "rest.akismet.com, up to 3 s), asked only for sites that set their own key; "
            "timing it would measure Akismet and the network, not Townhall.",
            f"- **History** the pipeline's queries read: {h['threads']} threads, "
            f"{h['comments']:,} comments from {h['clients']:,} clients over the last "
            f"{h['hours']} hours (a few clients write most of them), {h['commenters']:,} "
            f"commenters with a token ({h['new_commenters']} of them new today), "
            f"{h['flooders']} guest clients with 6 comments in the last 8 minutes, "
            f"{h['bans']} bans ({', '.join(f'{n} {k}' for k, n in h['bans_by_kind'].items())}; "
            f"{h['bans_in_force']} in force, the others expired or lifted).",
            f"- **Comments**: {p['comments']:,} generated with seed {p['seed']} "
            f"(`bench/moderation_app.py`): {p['chars_min']} to {p['chars_max']:,} characters, "
            f"median {p['chars_median']:,.0f}, {p['chars_total']:,} in all; sentences of common "
            f"English and news words; {kinds}; {readers}.",
            "- **One core**: each measuring process pins itself to core "
            f"{c['core']} (`os.sched_setaffinity`) before Django starts; they run one after "
            "the other. CPU share: the process's CPU time over the wall time of the timed loop "
            "(under 100%: the core was shared, or the process waited).",
            "- **Timing**: `time.perf_counter_ns` around each call, after 200 unmeasured calls "
            "(the plan's last comments); the garbage collector on, as in a server; comments/s is "
            "calls over the loop's wall time. The pipeline's input is built before: text "
            "cleaned, Markdown rendered to sanitized HTML, commenter loaded, as "
            "`do_post_comment` does before it calls `run_pipeline`.",
            f"- **The classifier**: alt-profanity-check {v['alt-profanity-check']} "
            f"(scikit-learn {v['scikit-learn']}). The table was compiled by the `pipeline` "
            "process on first use, in a child process (`python -m "
            f"townhall.moderation.toxicity`): {model['first_use_seconds']:.1f} s, compile and "
            f"load; the child peaked at {mib(model['compile_child_peak_kib'] or 0)} MiB. The "
            f"table ({model['table_bytes'] / 1e6:.1f} MB of JSON, {model['terms']:,} words) "
            f"then loads in {model['load_seconds'] * 1000:.0f} ms. The `library` process "
            f"imports `profanity_check` ({lib['import_seconds']:.1f} s with the model) and "
            "replaces `toxicity.score`, which `run_pipeline` calls, with "
            "`predict_prob([text])[0]`; the batched row is one `predict_prob` of all the texts. "
            f"Checked: the `pipeline` process never imported scikit-learn "
            f"({'true' if not c['sklearn_imported'] else 'FALSE'}), the `library` process "
            "never loaded the table "
            f"({'true' if not lib['compiled_table_loaded'] else 'FALSE'}).",
            f"- **End to end**: `do_post_comment` on the plan's first {post['posts']:,} comments "
            "(after 50 unmeasured): cleaning, Markdown, the pipeline, then one transaction "
            "(SQLite, WAL, `synchronous=NORMAL`): thread, guest commenter created or updated, "
            "the comment, an audit entry for a held one, the thread's version; on commit the "
            "notification or moderator-alert task is queued (django-tasks' database backend; "
            "no worker runs). A refused comment (`banned`, `comment_rejected`) counts: it "
            "raises before the transaction.",
            "- **Memory**: VmRSS and VmHWM (peak) of each measuring process from "
            "`/proc/self/status`: after Django's setup, once the 5,000 comments are loaded and "
            "rendered (the same in both), once the classifier is ready (the table loaded; the "
            "library imported and called once), and the peak at the end of the pipeline run.",
            "- **Steps**: each step of `run_pipeline` alone, over the plan's first "
            f"{c['sql']['comments']:,} comments, every comment (so a comment a ban refuses is "
            "still checked for words, and so on): mean per comment. Then `run_pipeline` on the "
            "same comments with every SQL statement timed, and SQLite's plan for each kind "
            "(`EXPLAIN QUERY PLAN`).",
            f"- **Background load**: CPU share busy with other work (both cores) in the second "
            f"before each process: {busy}.",
        ]
    )


def noise_note(measured: dict[str, Any]) -> str:
    """A warning naming the processes whose measurement other work may have slowed down."""
    shares = {
        "pipeline": measured["compiled"]["pipeline"]["timing"]["cpu_share"],
        "library": measured["library"]["pipeline"]["timing"]["cpu_share"],
        "post": measured["post"]["timing"]["cpu_share"],
    }
    busy = measured["background_cpu_busy"]
    noisy = [
        f"`{name}` ({busy[name]:.0%} busy before, {share:.0%} of its core)"
        for name, share in shares.items()
        if busy[name] > BUSY_WARNING or share < CPU_SHARE_WARNING
    ]
    if not noisy:
        return ""
    return (
        f"\n**Noisy run**: other work kept the machine over {BUSY_WARNING:.0%} busy before, "
        f"or the timed loop got under {CPU_SHARE_WARNING:.0%} of its core, for "
        f"{', '.join(noisy)}; rerun on a quiet machine.\n"
    )


def section_markdown(env: dict[str, Any], measured: dict[str, Any]) -> str:
    """The whole docs/benchmarks.md section for this benchmark."""
    m, v, src = env["machine"], measured["versions"], measured["source"]
    changes = (
        f" plus uncommitted changes to {', '.join(src['townhall_changes'])}"
        if src["townhall_changes"]
        else ""
    )
    steps = report.table(["Step (each alone)", "Mean (µs)"], step_rows(measured))
    return f"""
## Moderation pipeline: comments per second on one core, classifier on

- **Date**: {env["date"]}
- **Machine**: {m["cpu"]}, {m["cores"]} cores, {m["ram_gib"]} GiB RAM, {m["os"]}, \
kernel {m["kernel"]}
- **Software**: harness on Python {env["harness_python"]}; Townhall {v["townhall"]} \
(commit {src["commit"]}{changes}) on Python {v["python"]}, Django {v["django"]}, \
SQLite {v["sqlite"]}; alt-profanity-check {v["alt-profanity-check"]}, scikit-learn \
{v["scikit-learn"]}, SciPy {v["scipy"]}, NumPy {v["numpy"]}

### Command

```sh
{env["command"]}
```

(`python bench/run.py --benchmark moderation` reruns this section alone; it took \
{measured["seconds"]:.0f} s.)

### Method

{method_markdown(measured)}

### Results

{report.table(HEADERS, rows(measured), text_columns=2)}

{speedups(measured)}

{outcome_line(measured)}
{noise_note(measured)}
### Where the pipeline's time goes

{steps}

{chr(10).join(sql_summary(measured))}

### Memory

{report.table(MEMORY_HEADERS, memory_rows(measured), text_columns=2)}

Not importing scikit-learn saves {saved_mib(measured):.0f} MiB of peak memory per process.

### Targets

- {verdict(measured)}.
- {accuracy_line(measured)}.
"""
