"""The widget's anchoring.js against the shared corpus, in Chromium: the same answers as Python.

No server needed: the script is loaded into a blank page and called directly.
"""

from __future__ import annotations

import random
import statistics
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from tests.discussions.test_anchoring import CASES, CORPUS, edited_text, synthetic_article
from townhall.discussions.anchoring import Anchor, describe, locate, normalize

SCRIPT = (
    Path(__file__).resolve().parents[2] / "townhall" / "widget" / "static_src" / "anchoring.js"
).read_text("utf-8")


@pytest.fixture
def anchoring(page) -> Any:
    page.set_content("<!doctype html><title>anchoring</title>")
    page.add_script_tag(content=SCRIPT)
    assert page.evaluate("typeof window.TownhallAnchoring.locate") == "function"
    return page


def test_every_corpus_case_matches_expected_and_python(anchoring) -> None:
    inputs = [(edited_text(case), asdict(Anchor.from_json(case["anchor"]))) for case in CASES]
    answers = anchoring.evaluate(
        "inputs => inputs.map(([text, anchor]) => TownhallAnchoring.locate(text, anchor))", inputs
    )
    wrong, disagree = [], []
    for case, (text, anchor), js in zip(CASES, inputs, answers, strict=True):
        expected = case["expected"]
        found = None if js is None else {"start": js["start"], "end": js["end"]}
        if found != expected:
            wrong.append(f"{case['id']}: expected {expected}, JS found {js}")
        python = locate(text, Anchor(**anchor))
        if (None if python is None else asdict(python)) != js:
            disagree.append(f"{case['id']}: Python {python}, JS {js}")
    assert not wrong, "\n".join(wrong)
    # Same span, same method, same (rounded) score.
    assert not disagree, "\n".join(disagree)


def test_w3c_json_shape_is_accepted(anchoring) -> None:
    case = CASES[0]
    flat, w3c = anchoring.evaluate(
        """([text, json, flat]) => [TownhallAnchoring.locate(text, flat),
                                    TownhallAnchoring.locate(text, json)]""",
        [edited_text(case), case["anchor"], asdict(Anchor.from_json(case["anchor"]))],
    )
    assert flat == w3c is not None


def test_describe_matches_python(anchoring) -> None:
    selections = [(CORPUS["bases"][case["original"]], case["anchor"]["position"]) for case in CASES]
    text = CORPUS["bases"]["article"]
    selections += [
        (text, {"start": 0, "end": 5}),
        (text, {"start": len(text) - 3, "end": len(text)}),
    ]
    answers = anchoring.evaluate(
        "sel => sel.map(([t, p]) => TownhallAnchoring.describe(t, p.start, p.end))", selections
    )
    for (text, position), js in zip(selections, answers, strict=True):
        assert js == asdict(describe(text, position["start"], position["end"]))
    with pytest.raises(Exception, match="invalid selection"):
        anchoring.evaluate("() => TownhallAnchoring.describe('abc', 2, 2)")


def test_normalize_matches_python(anchoring) -> None:
    original = "a\u00a0 \n b\u2019s  \u201cx\u201d\n\x1c\x1d\ufeff."
    norm = anchoring.evaluate(
        """t => { const n = TownhallAnchoring.normalize(t);
                  const r = []; for (let i = 0; i <= t.length; i++) r.push(n.toNormalized(i));
                  const o = []; for (let i = 0; i <= n.text.length; i++) o.push(n.toOriginal(i));
                  return {text: n.text, normalized: r, original: o}; }""",
        original,
    )
    python = normalize(original)
    assert norm["text"] == python.text
    assert norm["normalized"] == [python.to_normalized(i) for i in range(len(original) + 1)]
    assert norm["original"] == [python.to_original(i) for i in range(len(python.text) + 1)]


def test_random_edits_agree_with_python(anchoring) -> None:
    """Beyond the corpus: random selections under random typos, deletions and insertions."""
    rng = random.Random(20)
    base = CORPUS["bases"]["article"]
    inputs = []
    for _ in range(300):
        start = rng.randrange(0, len(base) - 5)
        anchor = describe(base, start, min(len(base), start + rng.randint(1, 150)))
        chars = list(base)
        for _ in range(rng.randint(0, 12)):
            at = rng.randrange(len(chars))
            if (op := rng.random()) < 0.33:
                chars[at] = rng.choice("abcdefg \u2019\n")
            elif op < 0.66:
                del chars[at]
            else:
                chars.insert(at, rng.choice("xyz  \u201d"))
        inputs.append(("".join(chars), asdict(anchor)))
    answers = anchoring.evaluate(
        "inputs => inputs.map(([text, anchor]) => TownhallAnchoring.locate(text, anchor))", inputs
    )
    disagree = []
    for (text, anchor), js in zip(inputs, answers, strict=True):
        python = locate(text, Anchor(**anchor))
        if (None if python is None else asdict(python)) != js:
            disagree.append(f"{anchor}: Python {python}, JS {js}")
    assert not disagree, "\n".join(disagree[:10])


def test_locate_is_fast_on_a_5000_word_article(anchoring) -> None:
    original = synthetic_article(5000, seed=3)
    rng = random.Random(5)
    anchors = []
    for _ in range(100):
        start = original.index(" ", rng.randrange(0, len(original) - 200)) + 1
        anchors.append(asdict(describe(original, start, start + rng.randint(20, 120))))
    # Shift everything (the quote search runs) and damage every quote (the fuzzy search runs).
    damaged = list(original)
    for anchor in anchors:
        damaged[(anchor["start"] + anchor["end"]) // 2] = "#"
    shifted = "An editor's note was added at the top.\n\n" + original
    fuzzy = "A new first paragraph.\n\n" + "".join(damaged)
    timings = anchoring.evaluate(
        """([texts, anchors]) => texts.map(text => {
               TownhallAnchoring.normalize(text);  // warm, as for an article's comments
               // performance.now() is coarse (0.1 ms) here: per-anchor times for the median,
               // and the whole batch for the mean.
               const batch = performance.now();
               anchors.forEach(anchor => TownhallAnchoring.locate(text, anchor));
               const mean = (performance.now() - batch) / anchors.length;
               return [mean, anchors.map(anchor => {
                   const began = performance.now();
                   const match = TownhallAnchoring.locate(text, anchor);
                   return [performance.now() - began, match && match.method];
               })];
           })""",
        [[original, shifted, fuzzy], anchors],
    )
    medians, means = {}, {}
    for name, (mean, rows) in zip(("position", "quote", "fuzzy"), timings, strict=True):
        assert all(method == name for _, method in rows) or name == "fuzzy", name
        medians[name], means[name] = statistics.median(ms for ms, _ in rows), mean
    assert sum(method == "fuzzy" for _, method in timings[2][1]) >= 95
    print(
        "JS per anchor (ms), median / mean: "
        + ", ".join(f"{k} {medians[k]:.2f} / {means[k]:.3f}" for k in medians)
    )
    assert max(medians.values()) < 10
