"""Python's side of the anchoring benchmark (bench/anchoring.py), run in the project's Python.

bench/anchoring.py runs this file with the project's virtualenv
(`.venv/bin/python -P bench/anchoring_app.py`); it imports
townhall.discussions.anchoring (pure: no Django settings needed) and prints one
JSON object on its standard output:

- `corpus`: every case of tests/anchoring/cases.json as (edited text, anchor,
  expected span) and Python's `locate` answer for it;
- `scenarios`: a synthetic article of ARTICLE_WORDS words, ANCHORS anchors
  described on random selections (seeded), and for each scenario the edited
  text, the span each anchor should be found at, Python's answers and the time
  of every `locate` call (time.perf_counter_ns, ROUNDS rounds over the anchors).

The harness hands the same texts and anchors to the JavaScript twin in Chromium,
so both sides locate exactly the same inputs.
"""

from __future__ import annotations

import gc
import json
import platform
import random
import sys
import time
from dataclasses import asdict
from importlib.metadata import version
from pathlib import Path
from typing import Any

from townhall.discussions.anchoring import Anchor, describe, locate, normalize

REPO_DIR = Path(__file__).resolve().parent.parent
CASES_PATH = REPO_DIR / "tests" / "anchoring" / "cases.json"

ARTICLE_WORDS = 5000
ARTICLE_SEED = 7
ANCHORS = 200
ANCHOR_SEED = 11
ROUNDS = 5  # each anchor is located this many times per scenario, after one unmeasured round
MIN_QUOTE, MAX_QUOTE = 10, 150  # characters selected, before snapping the end to a word
TOP_PARAGRAPH = (
    "Editor's note: this story was updated on Wednesday with the council's final vote "
    "count and a statement from the mayor's office.\n\n"
)

# The same generator as tests/discussions/test_anchoring.py (synthetic_article).
VOCABULARY = (
    "the council river flood barrier city mayor residents plan vote million bridge "
    "wall storm water street neighborhood project design public meeting said year "
    "state federal grant bond engineers pump gates wetlands rail yard homes damage "
    "cost summer spring construction levee concrete Eastside Millbrook department"
)


def synthetic_article(words: int, seed: int) -> str:
    """Paragraphs of 2-5 sentences of 8-24 words, from a 460-word vocabulary."""
    rng = random.Random(seed)
    vocabulary = VOCABULARY.split()
    vocabulary += [f"{rng.choice('bcdfghklmnprstvw')}{rng.choice('aeiou')}{n}" for n in range(400)]
    paragraphs, count = [], 0
    while count < words:
        sentences = []
        for _ in range(rng.randint(2, 5)):
            n = rng.randint(8, 24)
            sentences.append(" ".join(rng.choice(vocabulary) for _ in range(n)).capitalize() + ".")
            count += n
        paragraphs.append(" ".join(sentences))
    return "\n\n".join(paragraphs)


def edited_text(corpus: dict[str, Any], case: dict[str, Any]) -> str:
    """A case's base text with its edits applied in order (each 'find' occurs once)."""
    text: str = corpus["bases"][case["original"]]
    for edit in case["edits"]:
        if text.count(edit["find"]) != 1:
            raise ValueError(f"{case['id']}: edit does not occur exactly once")
        text = text.replace(edit["find"], edit["replace"])
    return text


def answer(match: Any) -> dict[str, Any] | None:
    return None if match is None else asdict(match)


def corpus_cases() -> list[dict[str, Any]]:
    corpus = json.loads(CASES_PATH.read_text("utf-8"))
    rows = []
    for case in corpus["cases"]:
        text = edited_text(corpus, case)
        anchor = Anchor.from_json(case["anchor"])
        rows.append(
            {
                "id": case["id"],
                "category": case["category"],
                "text": text,
                "anchor": asdict(anchor),
                "expected": case["expected"],
                "python": answer(locate(text, anchor)),
            }
        )
    return rows


def selections(article: str) -> list[Anchor]:
    """ANCHORS selections from a word's start, MIN_QUOTE..MAX_QUOTE characters, to a word's end."""
    rng = random.Random(ANCHOR_SEED)
    anchors = []
    while len(anchors) < ANCHORS:
        start = article.index(" ", rng.randrange(0, len(article) - MAX_QUOTE - 40)) + 1
        end = start + rng.randint(MIN_QUOTE, MAX_QUOTE)
        while article[end - 1] in " .\n":  # end on a letter, like a dragged selection
            end -= 1
        if end - start >= MIN_QUOTE:
            anchors.append(describe(article, start, end))
    return anchors


def with_typos(article: str, anchors: list[Anchor]) -> str:
    """One letter changed inside every quote: the first letter from its middle on."""
    chars = list(article)
    for anchor in anchors:
        at = (anchor.start + anchor.end) // 2
        while not chars[at].isalpha():
            at += 1
        chars[at] = "q" if chars[at] != "q" else "z"
    return "".join(chars)


def timed(text: str, anchors: list[Anchor]) -> tuple[list[dict[str, Any] | None], list[int]]:
    """Python's answers, and the time of each call (ns) over ROUNDS rounds."""
    normalize(text)  # warm, as locating an article's comments normalizes it once
    answers = [answer(locate(text, anchor)) for anchor in anchors]  # also the unmeasured round
    times = []
    gc.disable()
    try:
        for _ in range(ROUNDS):
            for anchor in anchors:
                began = time.perf_counter_ns()
                locate(text, anchor)
                times.append(time.perf_counter_ns() - began)
    finally:
        gc.enable()
    return answers, times


def scenarios() -> dict[str, Any]:
    article = synthetic_article(ARTICLE_WORDS, ARTICLE_SEED)
    anchors = selections(article)
    shift = len(TOP_PARAGRAPH)
    texts = {
        "position": article,
        "quote": TOP_PARAGRAPH + article,
        "fuzzy": TOP_PARAGRAPH + with_typos(article, anchors),
    }
    out = []
    for name, text in texts.items():
        offset = 0 if name == "position" else shift  # typos replace one letter: same length
        answers, times = timed(text, anchors)
        out.append(
            {
                "name": name,
                "text": text,
                "expected": [{"start": a.start + offset, "end": a.end + offset} for a in anchors],
                "python": answers,
                "python_ns": times,
            }
        )
    return {
        "article": {
            "words": len(article.split()),
            "characters": len(article),
            "paragraphs": article.count("\n\n") + 1,
            "seed": ARTICLE_SEED,
        },
        "anchors": [asdict(a) for a in anchors],
        "anchor_seed": ANCHOR_SEED,
        "quote_lengths": sorted(a.end - a.start for a in anchors),
        "rounds": ROUNDS,
        "top_paragraph_characters": shift,
        "scenarios": out,
    }


def main() -> None:
    result = {
        "python": platform.python_version(),
        "townhall": version("townhall"),
        "edlib": version("edlib"),
        "corpus": corpus_cases(),
        **scenarios(),
    }
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
