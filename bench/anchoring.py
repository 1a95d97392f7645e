"""Benchmark: re-anchoring passage comments after the article was edited, Python and JavaScript.

Accuracy: every case of the acceptance corpus (tests/anchoring/cases.json:
a base text, an anchor described on it, edits, the span expected in the edited
text or none for an orphan) through Python's `locate`
(townhall/discussions/anchoring.py) and through the widget's twin,
`TownhallAnchoring.locate` (townhall/widget/static_src/anchoring.js), in
Chromium. A case is right when the span found is exactly the expected one
(or nothing, for an orphan); the two are also compared case by case (span,
method and rounded score).

Time: a synthetic article of about 5,000 words, 200 anchors described on
random selections (seeded), located in three scenarios: the text unchanged
(found by position), a paragraph inserted at the top (every offset shifts:
found by quote), and a one-letter typo inside every quote plus that paragraph
(found by the fuzzy search). Python times every call with
time.perf_counter_ns; in Chromium performance.now() is coarse (0.1 ms), so
whole batches of 200 are timed and the mean per anchor reported.

The Python side runs in the project's virtualenv (bench/anchoring_app.py,
`.venv/bin/python -P`), which also prepares every text and anchor; the
harness hands the same inputs to the page. Run through
`python bench/run.py --benchmark anchoring`; it needs Chromium at
/usr/bin/chromium (`sudo make browser`) and Playwright (the `test` extra).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from typing import Any

import report
import widget
from notifications import source_state
from support import BENCH_DIR, BUSY_WARNING, REPO_DIR, BenchError, cpu_busy_share

BENCH_KEY = "anchoring"
ACCURACY_TARGET = 0.98  # corpus cases right, each implementation
PYTHON_P95_TARGET_MS = 2.0  # Python, per anchor, p95, every scenario
JS_BATCHES = 5  # timed batches of all anchors per scenario in the page, after one unmeasured
PYTHON = REPO_DIR / ".venv" / "bin" / "python"
APP = BENCH_DIR / "anchoring_app.py"
SCRIPT = REPO_DIR / "townhall" / "widget" / "static_src" / "anchoring.js"
# The widget benchmark's Chromium, with the font hinting tests/browser/conftest.py also sets.
CHROMIUM_ARGS = [*widget.CHROMIUM_ARGS, "--font-render-hinting=none"]
SCENARIOS = {
    "position": "Text unchanged",
    "quote": "Paragraph inserted at the top",
    "fuzzy": "Typo in every quote + paragraph at the top",
}

# Locates every corpus case once; per scenario: warms the normalization, keeps the answers of
# one unmeasured batch, then times `batches` whole batches of all anchors.
PAGE_RUN = """
([cases, scenarios, anchors, batches]) => {
  const A = window.TownhallAnchoring;
  const corpus = cases.map(([text, anchor]) => A.locate(text, anchor));
  const timed = scenarios.map(text => {
    A.normalize(text);
    const answers = anchors.map(anchor => A.locate(text, anchor));
    const ms = [];
    for (let b = 0; b < batches; b++) {
      const began = performance.now();
      for (const anchor of anchors) A.locate(text, anchor);
      ms.push(performance.now() - began);
    }
    return {answers, ms};
  });
  return {corpus, timed};
}
"""


def python_side() -> dict[str, Any]:
    """Run bench/anchoring_app.py in the project's Python; its JSON answer."""
    if not PYTHON.is_file():
        raise BenchError(f"{PYTHON} is missing: run `make install`")
    try:
        result = subprocess.run(
            [str(PYTHON), "-P", str(APP)],
            cwd=REPO_DIR,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise BenchError("bench/anchoring_app.py timed out") from error
    if result.returncode != 0:
        tail = "\n".join(result.stderr.splitlines()[-20:])
        raise BenchError(f"bench/anchoring_app.py failed (exit {result.returncode}):\n{tail}")
    return dict(json.loads(result.stdout))


def js_side(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Locate the same corpus cases and scenarios with anchoring.js in Chromium."""
    with widget.chromium(CHROMIUM_ARGS) as (browser, versions):
        page = browser.new_page()
        page.set_content("<!doctype html><title>anchoring</title>")
        page.add_script_tag(content=SCRIPT.read_text("utf-8"))
        if page.evaluate("typeof window.TownhallAnchoring?.locate") != "function":
            raise BenchError("anchoring.js did not define TownhallAnchoring.locate")
        cases = [[case["text"], case["anchor"]] for case in data["corpus"]]
        texts = [scenario["text"] for scenario in data["scenarios"]]
        answers = page.evaluate(PAGE_RUN, [cases, texts, data["anchors"], JS_BATCHES])
        page.close()
    return answers, versions


def span(found: dict[str, Any] | None) -> dict[str, int] | None:
    return None if found is None else {"start": found["start"], "end": found["end"]}


def stats_ms(ns: list[int]) -> dict[str, float]:
    """Median, p95 (interpolated) and max of call times in ns, in ms."""
    ms = [t / 1e6 for t in ns]
    return {
        "median_ms": statistics.median(ms),
        "p95_ms": statistics.quantiles(ms, n=20, method="inclusive")[-1],
        "max_ms": max(ms),
    }


def accuracy(data: dict[str, Any], js: dict[str, Any]) -> dict[str, Any]:
    """Right / total for each implementation on the corpus, and where they disagree."""
    cases = data["corpus"]
    wrong: dict[str, list[str]] = {"python": [], "js": []}
    disagree = []
    for case, js_answer in zip(cases, js["corpus"], strict=True):
        for side, found in (("python", case["python"]), ("js", js_answer)):
            if span(found) != case["expected"]:
                wrong[side].append(case["id"])
        if case["python"] != js_answer:
            disagree.append({"id": case["id"], "python": case["python"], "js": js_answer})
    total = len(cases)
    return {
        "total": total,
        "python_right": total - len(wrong["python"]),
        "js_right": total - len(wrong["js"]),
        "python_wrong": wrong["python"],
        "js_wrong": wrong["js"],
        "disagreements": disagree,
        "categories": len({case["category"] for case in cases}),
        "orphans": sum(case["expected"] is None for case in cases),
    }


def timing(data: dict[str, Any], js: dict[str, Any]) -> list[dict[str, Any]]:
    """Per scenario: Python's call-time statistics, JS's mean per anchor, answers checked."""
    anchors = len(data["anchors"])
    rows = []
    for scenario, page in zip(data["scenarios"], js["timed"], strict=True):
        expected = scenario["expected"]
        python, answers = scenario["python"], page["answers"]
        rows.append(
            {
                "name": scenario["name"],
                "characters": len(scenario["text"]),
                "python": stats_ms(scenario["python_ns"]),
                "python_calls": len(scenario["python_ns"]),
                "js_batch_ms": page["ms"],
                "js_mean_ms": sum(page["ms"]) / (len(page["ms"]) * anchors),
                "python_found": sum(span(p) == e for p, e in zip(python, expected, strict=True)),
                "js_found": sum(span(j) == e for j, e in zip(answers, expected, strict=True)),
                "python_by_method": sum(
                    p is not None and p["method"] == scenario["name"] for p in python
                ),
                "js_by_method": sum(
                    j is not None and j["method"] == scenario["name"] for j in answers
                ),
                "agree": sum(p == j for p, j in zip(python, answers, strict=True)),
                "anchors": anchors,
            }
        )
    return rows


def run_all(args: Any) -> dict[str, Any]:
    """Python in the project's venv, then the same inputs in Chromium; everything measured."""
    started = time.monotonic()
    busy = cpu_busy_share()
    data = python_side()
    js, versions = js_side(data)
    return {
        "source": source_state(),
        "versions": {
            "python": data["python"],
            "townhall": data["townhall"],
            "edlib": data["edlib"],
            **versions,
        },
        "background_cpu_busy": busy,
        "article": data["article"],
        "anchor_seed": data["anchor_seed"],
        "anchor_count": len(data["anchors"]),
        "quote_lengths": {
            "min": min(data["quote_lengths"]),
            "median": statistics.median(data["quote_lengths"]),
            "max": max(data["quote_lengths"]),
        },
        "top_paragraph_characters": data["top_paragraph_characters"],
        "python_rounds": data["rounds"],
        "js_batches": JS_BATCHES,
        "accuracy": accuracy(data, js),
        "timing": timing(data, js),
        "corpus_answers": [
            {"id": c["id"], "expected": c["expected"], "python": c["python"], "js": j}
            for c, j in zip(data["corpus"], js["corpus"], strict=True)
        ],
        "seconds": round(time.monotonic() - started, 1),
    }


# ---- report ----------------------------------------------------------------------------------


def pct(right: int, total: int) -> str:
    return f"{right / total:.1%}"


def accuracy_rows(acc: dict[str, Any]) -> list[list[str]]:
    total, rows = acc["total"], []
    for name, key in (("Python `locate`", "python"), ("JavaScript `locate`", "js")):
        right = acc[f"{key}_right"]
        wrong = ", ".join(f"`{case}`" for case in acc[f"{key}_wrong"]) or "none"
        rows.append([name, str(right), str(total), pct(right, total), wrong])
    return rows


ACCURACY_HEADERS = ["Implementation", "Right", "Cases", "Accuracy", "Wrong cases"]
TIMING_HEADERS = [
    "Scenario",
    "Python median (ms)",
    "Python p95 (ms)",
    "Python max (ms)",
    "JS mean (ms)",
    "Found as expected (Py / JS)",
    "By this method (Py / JS)",
    "Py = JS",
]


def timing_rows(rows: list[dict[str, Any]], markdown: bool = True) -> list[list[str]]:
    def ms(value: float) -> str:
        return f"{value:.3f}"

    return [
        [
            f"{SCENARIOS[r['name']]} (`{r['name']}`)" if markdown else r["name"],
            ms(r["python"]["median_ms"]),
            ms(r["python"]["p95_ms"]),
            ms(r["python"]["max_ms"]),
            ms(r["js_mean_ms"]),
            f"{r['python_found']} / {r['js_found']}",
            f"{r['python_by_method']} / {r['js_by_method']}",
            f"{r['agree']}/{r['anchors']}",
        ]
        for r in rows
    ]


def verdicts(measured: dict[str, Any]) -> list[tuple[str, bool, str]]:
    """(target, met, the numbers) for each target."""
    acc = measured["accuracy"]
    total = acc["total"]
    worst = max(measured["timing"], key=lambda r: r["python"]["p95_ms"])
    p95s = ", ".join(f"{r['name']} {r['python']['p95_ms']:.3f} ms" for r in measured["timing"])
    return [
        (
            f"Python `locate` gets at least {ACCURACY_TARGET:.0%} of the corpus right",
            acc["python_right"] / total >= ACCURACY_TARGET,
            f"{acc['python_right']}/{total} = {pct(acc['python_right'], total)}",
        ),
        (
            f"JavaScript `locate` gets at least {ACCURACY_TARGET:.0%} of the corpus right",
            acc["js_right"] / total >= ACCURACY_TARGET,
            f"{acc['js_right']}/{total} = {pct(acc['js_right'], total)}",
        ),
        (
            f"Python under {PYTHON_P95_TARGET_MS:g} ms per anchor on a ~5,000-word article, "
            "p95, in every scenario",
            worst["python"]["p95_ms"] < PYTHON_P95_TARGET_MS,
            f"p95 {p95s}",
        ),
    ]


def agreement_line(acc: dict[str, Any]) -> str:
    same = acc["total"] - len(acc["disagreements"])
    line = (
        f"Python and JavaScript agree on {same}/{acc['total']} cases "
        "(same span, method and rounded score)"
    )
    if acc["disagreements"]:
        line += ": they differ on " + ", ".join(f"`{d['id']}`" for d in acc["disagreements"])
    return line + "."


def print_results(measured: dict[str, Any]) -> None:
    acc = measured["accuracy"]
    print()
    print(
        report.text_table(
            ACCURACY_HEADERS, [[c.replace("`", "") for c in r] for r in accuracy_rows(acc)]
        )
    )
    print(agreement_line(acc).replace("`", ""))
    print()
    print(
        report.text_table(
            ["Scenario", *TIMING_HEADERS[1:]], timing_rows(measured["timing"], markdown=False)
        )
    )
    print()
    for target, met, numbers in verdicts(measured):
        print(f"Target {target.replace('`', '')}: {'MET' if met else 'NOT MET'} ({numbers})")


def method_markdown(measured: dict[str, Any]) -> str:
    v, a, acc, q = (
        measured["versions"],
        measured["article"],
        measured["accuracy"],
        measured["quote_lengths"],
    )
    calls = measured["timing"][0]["python_calls"]
    return "\n".join(
        [
            f"- **Corpus**: the {acc['total']} cases of `tests/anchoring/cases.json` "
            f"({acc['categories']} categories, {acc['orphans']} of them orphans): each an anchor "
            "(W3C TextQuoteSelector with up to 32 characters of prefix and suffix, and "
            "TextPositionSelector) described on a base text, edits applied to it, and the span "
            "expected in the edited text, or none. A case is right when the span found equals "
            "the expected one exactly (or nothing is found for an orphan).",
            "- **Python**: `townhall.discussions.anchoring.locate`, run by "
            "`bench/anchoring_app.py` in the project's virtualenv (`.venv/bin/python -P`), "
            f"Python {v['python']}, edlib {v['edlib']}. That script also builds every text and "
            "anchor, which the harness hands unchanged to the page.",
            f"- **JavaScript**: `TownhallAnchoring.locate` from "
            "`townhall/widget/static_src/anchoring.js`, loaded into a blank page of Chromium "
            f"{v['chromium']} (Debian's, headless, `{' '.join(CHROMIUM_ARGS)}`), driven by "
            f"Playwright {v['playwright']}.",
            f"- **Article**: {a['words']:,} words, {a['characters']:,} characters in "
            f"{a['paragraphs']} paragraphs, generated as in `tests/discussions/test_anchoring.py` "
            f"(`synthetic_article`, seed {a['seed']}): sentences of 8 to 24 words drawn from a "
            "460-word vocabulary, so short phrases recur.",
            f"- **Anchors**: {measured['anchor_count']} selections (seed "
            f"{measured['anchor_seed']}) from the start of a word, {q['min']} to {q['max']} "
            f"characters long (median {q['median']:g}), each described with `describe` on the "
            "article.",
            "- **Scenarios**: *unchanged* - the article as the anchors were described on it "
            "(found by position); *paragraph at the top* - a "
            f"{measured['top_paragraph_characters']}-character editor's note and a blank line "
            "inserted before it, so every offset moves (found by quote); *typo* - in addition, "
            "the first letter from the middle of every quote on is replaced by another letter "
            "(found by the approximate search). The expected span is the old one moved by the "
            "inserted paragraph.",
            "- **Python timing**: the article's normalization is warmed first (as locating an "
            "article's comments normalizes it once), one unmeasured round over the anchors, then "
            f"{measured['python_rounds']} rounds, each call timed with `time.perf_counter_ns` "
            f"({calls:,} calls per scenario, garbage collector off); median, p95 (interpolated) "
            "and max per call.",
            "- **JavaScript timing**: `performance.now()` is coarse in Chromium (0.1 ms), so "
            f"after warming the normalization and one unmeasured batch, {measured['js_batches']} "
            f"batches of all {measured['anchor_count']} anchors are timed whole; the mean per "
            "anchor is their total over the calls.",
            "- **Background load**: CPU share busy with other work in the second before the "
            f"measurements: {measured['background_cpu_busy']:.0%}.",
        ]
    )


def section_markdown(env: dict[str, Any], measured: dict[str, Any]) -> str:
    """The whole docs/benchmarks.md section for this benchmark."""
    m, v, src, acc = env["machine"], measured["versions"], measured["source"], measured["accuracy"]
    changes = (
        f" plus uncommitted changes to {', '.join(src['townhall_changes'])}"
        if src["townhall_changes"]
        else ""
    )
    noise = (
        f"\n**Noisy run**: other work kept the machine over {BUSY_WARNING:.0%} busy before the "
        "measurements (see Method); rerun on a quiet machine.\n"
        if measured["background_cpu_busy"] > BUSY_WARNING
        else ""
    )
    targets = "\n".join(
        f"- {target}: **{'met' if met else 'not met'}** ({numbers})."
        for target, met, numbers in verdicts(measured)
    )
    return f"""
## Re-anchoring passage comments after an edit: accuracy and time per anchor

- **Date**: {env["date"]}
- **Machine**: {m["cpu"]}, {m["cores"]} cores, {m["ram_gib"]} GiB RAM, {m["os"]}, \
kernel {m["kernel"]}
- **Software**: harness on Python {env["harness_python"]}; Townhall {v["townhall"]} \
(commit {src["commit"]}{changes}) on Python {v["python"]}, edlib {v["edlib"]}; Chromium \
{v["chromium"]}, Playwright {v["playwright"]}

### Command

```sh
{env["command"]}
```

(`python bench/run.py --benchmark anchoring` reruns this section alone; it took \
{measured["seconds"]:.0f} s.)

### Method

{method_markdown(measured)}

### Accuracy on the corpus

{report.table(ACCURACY_HEADERS, accuracy_rows(acc), text_columns=1)}

{agreement_line(acc)}

### Time per anchor, {measured["article"]["words"]:,}-word article, \
{measured["anchor_count"]} anchors

{report.table(TIMING_HEADERS, timing_rows(measured["timing"]), text_columns=1)}

"Found as expected": anchors located at exactly the expected span; "by this method": found by \
the strategy the scenario is meant to exercise; "Py = JS": the same answer (span, method, \
score) from both.
{noise}
### Targets

{targets}
"""
