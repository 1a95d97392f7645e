"""Re-anchoring of passage comments: the shared corpus, describe(), normalization, JSON, speed."""

from __future__ import annotations

import json
import random
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from townhall.discussions.anchoring import (
    CONTEXT_LENGTH,
    Anchor,
    Match,
    describe,
    locate,
    normalize,
    normalize_string,
)

CORPUS_PATH = Path(__file__).resolve().parent.parent / "anchoring" / "cases.json"
CORPUS: dict[str, Any] = json.loads(CORPUS_PATH.read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = CORPUS["cases"]


def edited_text(case: dict[str, Any]) -> str:
    """Apply a case's edits to its base text (each 'find' must occur exactly once)."""
    text: str = CORPUS["bases"][case["original"]]
    for edit in case["edits"]:
        assert text.count(edit["find"]) == 1, (case["id"], edit["find"][:60])
        text = text.replace(edit["find"], edit["replace"])
    return text


def outcome(case: dict[str, Any]) -> Match | None:
    return locate(edited_text(case), Anchor.from_json(case["anchor"]))


def is_correct(case: dict[str, Any], match: Match | None) -> bool:
    expected = case["expected"]
    if expected is None:
        return match is None
    return match is not None and (match.start, match.end) == (expected["start"], expected["end"])


# --- the corpus -------------------------------------------------------------------------------


def test_corpus_is_well_formed() -> None:
    assert len(CASES) >= 40
    assert len({case["id"] for case in CASES}) == len(CASES)
    categories = Counter(case["category"] for case in CASES)
    for category in (
        "typo",
        "words",
        "insert-before",
        "delete-before",
        "moved",
        "quotes",
        "whitespace",
        "repeated",
        "orphan",
        "context",
        "short",
        "long",
    ):
        assert categories[category] >= 3, category
    for case in CASES:
        base = CORPUS["bases"][case["original"]]
        anchor = Anchor.from_json(case["anchor"])
        # Selectors were computed on the original text.
        assert anchor == describe(base, anchor.start, anchor.end), case["id"]
        expected = case["expected"]
        if expected is not None:
            text = edited_text(case)
            assert 0 <= expected["start"] < expected["end"] <= len(text), case["id"]


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_corpus_case(case: dict[str, Any]) -> None:
    match = outcome(case)
    expected = case["expected"]
    found = None if match is None else {"start": match.start, "end": match.end}
    assert is_correct(case, match), f"{case['description']} expected {expected}, got {match}"
    if match is not None:
        assert 0.0 <= match.score <= 1.0
        if case["category"] in ("typo", "words", "long"):
            assert match.method == "fuzzy", found


def test_corpus_accuracy() -> None:
    correct = sum(is_correct(case, outcome(case)) for case in CASES)
    assert correct / len(CASES) >= 0.98, f"{correct}/{len(CASES)}"


# --- describe() ---------------------------------------------------------------------------------

TEXT = "The quick brown fox jumps over the lazy dog while the cat sleeps on the warm mat."


def test_describe_in_the_middle_takes_32_characters_of_context() -> None:
    start = TEXT.index("while")
    anchor = describe(TEXT, start, start + len("while"))
    assert anchor.exact == "while"
    assert anchor.prefix == TEXT[start - CONTEXT_LENGTH : start]
    assert len(anchor.prefix) == CONTEXT_LENGTH
    assert anchor.suffix == TEXT[start + 5 : start + 5 + CONTEXT_LENGTH]
    assert (anchor.start, anchor.end) == (start, start + 5)


def test_describe_at_the_start_of_the_text_has_no_prefix() -> None:
    anchor = describe(TEXT, 0, 3)
    assert anchor == Anchor(exact="The", prefix="", suffix=TEXT[3:35], start=0, end=3)


def test_describe_at_the_end_of_the_text_has_no_suffix() -> None:
    anchor = describe(TEXT, len(TEXT) - 4, len(TEXT))
    assert anchor.exact == "mat."
    assert anchor.suffix == ""
    assert anchor.prefix == TEXT[len(TEXT) - 36 : len(TEXT) - 4]


def test_describe_near_the_edges_keeps_shorter_context() -> None:
    anchor = describe(TEXT, 4, 9)
    assert anchor.prefix == "The "
    anchor = describe(TEXT, len(TEXT) - 9, len(TEXT) - 5)
    assert anchor.suffix == " mat."


def test_describe_the_whole_text() -> None:
    anchor = describe(TEXT, 0, len(TEXT))
    assert (anchor.prefix, anchor.exact, anchor.suffix) == ("", TEXT, "")
    assert locate(TEXT, anchor) == Match(0, len(TEXT), "position", 1.0)


@pytest.mark.parametrize("start, end", [(-1, 3), (3, 3), (5, 2), (0, len(TEXT) + 1)])
def test_describe_rejects_empty_or_out_of_range_selections(start: int, end: int) -> None:
    with pytest.raises(ValueError):
        describe(TEXT, start, end)


# --- normalization ------------------------------------------------------------------------------


def test_normalize_string_equates_quotes_and_whitespace() -> None:
    assert normalize_string(
        "\u201cIt\u2019s\u00a0here,\u201d\t\n  she said \u2018twice\u2019."
    ) == ("\"It's here,\" she said 'twice'.")
    assert normalize_string("a\u2009b\u202fc\u3000d") == "a b c d"


def test_normalize_maps_offsets_back_to_the_original() -> None:
    original = "a\u00a0 \n b\u2019s  \u201cx\u201d\n"
    norm = normalize(original)
    assert norm.text == 'a b\'s "x" '
    # Each normalized boundary maps to the original boundary.
    expected = {0: 0, 1: 1, 2: 5, 3: 6, 4: 7, 5: 8, 6: 10, 7: 11, 8: 12, 9: 13, 10: 14}
    assert {i: norm.to_original(i) for i in range(len(norm.text) + 1)} == expected
    # And back; an offset inside a collapsed run lands just after its single space.
    for normalized, original_offset in expected.items():
        assert norm.to_normalized(original_offset) == normalized
    assert norm.to_normalized(3) == 2
    assert norm.to_normalized(9) == 6
    assert norm.to_normalized(999) == len(norm.text)


def test_normalize_without_whitespace_runs_is_the_identity_on_offsets() -> None:
    norm = normalize(TEXT)
    assert norm.text == TEXT
    assert all(norm.to_original(i) == i == norm.to_normalized(i) for i in range(len(TEXT) + 1))


def test_match_spans_the_original_text_after_normalization() -> None:
    original = "He said \u201cwe can\u2019t  wait\u201d  today."
    anchor = describe(original, original.index("\u201c"), original.index("\u201d") + 1)
    edited = 'Then he said "we   can\'t\nwait"  today.'
    match = locate(edited, anchor)
    assert match is not None and match.method == "quote"
    assert edited[match.start : match.end] == '"we   can\'t\nwait"'


# --- JSON ---------------------------------------------------------------------------------------


def test_json_round_trip_in_the_w3c_shape() -> None:
    anchor = describe(TEXT, 10, 19)
    data = anchor.to_json()
    assert data == {
        "quote": {
            "type": "TextQuoteSelector",
            "exact": "brown fox",
            "prefix": "The quick ",
            "suffix": TEXT[19:51],
        },
        "position": {"type": "TextPositionSelector", "start": 10, "end": 19},
    }
    assert Anchor.from_json(json.loads(json.dumps(data))) == anchor


def test_from_json_tolerates_missing_context() -> None:
    anchor = Anchor.from_json({"quote": {"exact": "fox"}, "position": {"start": 16, "end": 19}})
    assert anchor == Anchor(exact="fox", prefix="", suffix="", start=16, end=19)


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"quote": {"exact": "fox"}},
        {"quote": {"exact": ""}, "position": {"start": 0, "end": 0}},
        {"quote": {"exact": "fox"}, "position": {"start": "1", "end": 4}},
        {"quote": {"exact": "fox"}, "position": {"start": 5, "end": 4}},
        {"quote": {"exact": 3}, "position": {"start": 1, "end": 4}},
        {"quote": {"type": "CssSelector", "exact": "fox"}, "position": {"start": 1, "end": 4}},
        {"quote": "fox", "position": {"start": 1, "end": 4}},
    ],
)
def test_from_json_rejects_malformed_selectors(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Anchor.from_json(data)


# --- other behaviour ----------------------------------------------------------------------------


def test_locate_in_an_empty_text_is_an_orphan() -> None:
    assert locate("", describe(TEXT, 4, 9)) is None


def test_stale_position_outside_the_text_falls_back_to_the_quote() -> None:
    anchor = describe(TEXT, TEXT.index("lazy"), TEXT.index("lazy") + 4)
    match = locate("lazy", anchor)
    assert match == Match(0, 4, "quote", match.score if match else 0.0)


def test_fuzzy_search_with_more_than_256_distinct_characters() -> None:
    exotic = "".join(chr(0x4E00 + i) for i in range(400))
    original = f"{exotic} the council approved the flood barrier on Tuesday {exotic}"
    start = original.index("the council")
    anchor = describe(original, start, start + len("the council approved the flood barrier"))
    edited = original.replace("approved", "aproved")
    match = locate(edited, anchor)
    assert match is not None and match.method == "fuzzy"
    assert edited[match.start : match.end] == "the council aproved the flood barrier"


# --- speed (a sanity check; the real benchmark lives elsewhere) -------------------------------


VOCABULARY = (
    "the council river flood barrier city mayor residents plan vote million bridge "
    "wall storm water street neighborhood project design public meeting said year "
    "state federal grant bond engineers pump gates wetlands rail yard homes damage "
    "cost summer spring construction levee concrete Eastside Millbrook department"
)


def synthetic_article(words: int, seed: int) -> str:
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


def median_microseconds(text: str, anchors: list[Anchor]) -> tuple[float, float]:
    timings, correct = [], 0
    for anchor in anchors:
        began = time.perf_counter()
        match = locate(text, anchor)
        timings.append(time.perf_counter() - began)
        correct += match is not None and normalize_string(
            text[match.start : match.end]
        ) == normalize_string(anchor.exact)
    return statistics.median(timings) * 1e6, correct / len(anchors)


def test_locate_is_fast_on_a_5000_word_article() -> None:
    original = synthetic_article(5000, seed=7)
    assert len(original.split()) >= 5000
    rng = random.Random(11)
    anchors = []
    for _ in range(300):
        start = rng.randrange(0, len(original) - 200)
        start = original.index(" ", start) + 1
        end = start + rng.randint(5, 120)
        anchors.append(describe(original, start, end))
    normalize(original)  # warm the cache as locating an article's comments would
    unchanged, found_unchanged = median_microseconds(original, anchors)
    # An edit at the top shifts everything: the quote search runs for every anchor.
    edited = "An editor's note was added at the top of the story.\n\n" + original
    normalize(edited)
    shifted, found_shifted = median_microseconds(edited, anchors)
    print(f"median per anchor: position {unchanged:.0f} µs, quote {shifted:.0f} µs")
    assert found_unchanged == 1.0 and found_shifted >= 0.98
    assert unchanged < 10_000 and shifted < 10_000


def test_fuzzy_locate_is_fast_on_a_5000_word_article() -> None:
    original = synthetic_article(5000, seed=3)
    rng = random.Random(5)
    anchors, edited = [], original
    for _ in range(100):
        start = original.index(" ", rng.randrange(0, len(original) - 200)) + 1
        anchors.append(describe(original, start, start + rng.randint(20, 120)))
    # Damage one character inside every quote, and shift everything.
    damaged = list(original)
    for anchor in anchors:
        middle = (anchor.start + anchor.end) // 2
        damaged[middle] = "#"
    edited = "A new first paragraph.\n\n" + "".join(damaged)
    normalize(edited)
    timings = []
    for anchor in anchors:
        began = time.perf_counter()
        locate(edited, anchor)
        timings.append(time.perf_counter() - began)
    median = statistics.median(timings) * 1e6
    print(f"median per anchor: fuzzy {median:.0f} µs")
    assert median < 10_000
