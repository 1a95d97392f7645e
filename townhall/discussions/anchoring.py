"""Re-anchoring of passage comments ("Inline Feedbacks") after an article has been edited.

A passage comment stores where its passage was when the reader selected it, in the shape of
the W3C Web Annotation model: a ``TextQuoteSelector`` (the ``exact`` text plus up to 32
characters of ``prefix`` and ``suffix`` around it) and a ``TextPositionSelector`` (``start``
and ``end`` offsets into the article's plain text, counted in Unicode code points).

When the article changes, :func:`locate` finds the passage again, trying in order:

1. **position** -- the text at ``start..end`` still equals ``exact`` (and, for short quotes,
   the surrounding context still agrees, so that a repeated word shifted onto the old offset
   is not mistaken for the passage);
2. **quote** -- every occurrence of ``exact`` in the normalized text, scored by prefix and
   suffix agreement and then by closeness to the old position;
3. **fuzzy** -- an approximate infix search tolerating edits inside the quote (Myers'
   bit-parallel edit distance, via ``edlib``), scored by quote similarity, prefix, suffix
   and position.

A passage that cannot be found is an orphan: :func:`locate` returns ``None``.

Comparison happens on a normalized copy of the text in which curly and straight quotes and
apostrophes are equal, and every run of whitespace (including non-breaking and other Unicode
spaces, tabs and newlines) is a single space. Offsets found in the normalized copy are mapped
back to the original text, so a :class:`Match` always addresses the text as given.

This module is pure: no Django, no I/O. The same algorithm is implemented in JavaScript for
the widget; ``tests/anchoring/cases.json`` is the acceptance corpus both share.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import edlib

__all__ = [
    "CONTEXT_LENGTH",
    "Anchor",
    "Match",
    "NormalizedText",
    "describe",
    "locate",
    "normalize",
]

#: Characters of prefix and suffix kept around a quote.
CONTEXT_LENGTH = 32

# Single quotes, apostrophes and primes become ', double quotes and double primes become ".
# Every mapping is one character to one character, so it never moves an offset.
_QUOTES = str.maketrans(
    {
        "\u2018": "'",  # LEFT SINGLE QUOTATION MARK
        "\u2019": "'",  # RIGHT SINGLE QUOTATION MARK (also the typographic apostrophe)
        "\u201a": "'",  # SINGLE LOW-9 QUOTATION MARK
        "\u201b": "'",  # SINGLE HIGH-REVERSED-9 QUOTATION MARK
        "\u2032": "'",  # PRIME
        "\u201c": '"',  # LEFT DOUBLE QUOTATION MARK
        "\u201d": '"',  # RIGHT DOUBLE QUOTATION MARK
        "\u201e": '"',  # DOUBLE LOW-9 QUOTATION MARK
        "\u201f": '"',  # DOUBLE HIGH-REVERSED-9 QUOTATION MARK
        "\u2033": '"',  # DOUBLE PRIME
    }
)
# Python's \s on str: every character for which str.isspace() is true (includes U+00A0,
# U+2009, U+202F, U+3000, line and paragraph separators).
_WHITESPACE = re.compile(r"\s+")
_WHITESPACE_RUN = re.compile(r"\s{2,}")

# Score weights (the same balance as Hypothesis' client): the quote itself dominates, prefix
# and suffix break ties between candidates, the old position breaks the remaining ties.
_QUOTE_WEIGHT = 50.0
_PREFIX_WEIGHT = 20.0
_SUFFIX_WEIGHT = 20.0
_POSITION_WEIGHT = 2.0
_TOTAL_WEIGHT = _QUOTE_WEIGHT + _PREFIX_WEIGHT + _SUFFIX_WEIGHT + _POSITION_WEIGHT

#: Quotes (normalized) at least this long are trusted on their own; shorter ones need their
#: context to agree before a position or fuzzy match is accepted.
_SELF_EVIDENT_LENGTH = 32
#: Minimum context agreement (best of prefix and suffix similarity) for short quotes.
_MIN_CONTEXT = 0.5
#: The approximate search tolerates up to this many edits per character of the quote.
_MAX_ERROR_RATE = 0.4
#: Fuzzy matches must reach this quote similarity (1 - edits / length)...
_MIN_QUOTE_SIMILARITY = 0.75
#: ...or this lower one when both prefix and suffix agree at least this well.
_MIN_QUOTE_SIMILARITY_IN_CONTEXT = 0.6
_MIN_CONTEXT_FOR_REWRITES = 0.75
#: How far (characters) the boundaries of a fuzzy match may be moved to agree with the context.
_MAX_BOUNDARY_SHIFT = 24


@dataclass(frozen=True)
class Anchor:
    """Where a passage was: a W3C TextQuoteSelector plus a TextPositionSelector.

    ``start`` and ``end`` are offsets (Unicode code points, end exclusive) into the plain text
    the anchor was described on; ``prefix`` and ``suffix`` hold up to :data:`CONTEXT_LENGTH`
    characters immediately before and after ``exact``.
    """

    exact: str
    prefix: str
    suffix: str
    start: int
    end: int

    def to_json(self) -> dict[str, dict[str, Any]]:
        """The W3C Web Annotation selectors, as stored on a passage comment."""
        return {
            "quote": {
                "type": "TextQuoteSelector",
                "exact": self.exact,
                "prefix": self.prefix,
                "suffix": self.suffix,
            },
            "position": {
                "type": "TextPositionSelector",
                "start": self.start,
                "end": self.end,
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Anchor:
        """Read the shape written by :meth:`to_json`; ``prefix``/``suffix`` may be missing.

        Raises ``ValueError`` when the selectors are missing or malformed.
        """
        try:
            quote = data["quote"]
            position = data["position"]
            exact = quote["exact"]
            prefix = quote.get("prefix", "")
            suffix = quote.get("suffix", "")
            start = position["start"]
            end = position["end"]
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a passage anchor: {exc!r}") from exc
        if quote.get("type", "TextQuoteSelector") != "TextQuoteSelector":
            raise ValueError("quote selector must be a TextQuoteSelector")
        if position.get("type", "TextPositionSelector") != "TextPositionSelector":
            raise ValueError("position selector must be a TextPositionSelector")
        if not all(isinstance(value, str) for value in (exact, prefix, suffix)):
            raise ValueError("exact, prefix and suffix must be strings")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
            raise ValueError("start and end must be integers")
        if not exact or not 0 <= start <= end:
            raise ValueError("empty quote or invalid position")
        return cls(exact=exact, prefix=prefix, suffix=suffix, start=start, end=end)


@dataclass
class Match:
    """Where a passage is now: ``text[start:end]`` of the text given to :func:`locate`.

    ``method`` says which strategy found it; ``score`` is in ``[0, 1]`` (1 for an exact
    position match, otherwise the weighted agreement of quote, prefix, suffix and position).
    """

    start: int
    end: int
    method: Literal["position", "quote", "fuzzy"]
    score: float


@dataclass(frozen=True)
class NormalizedText:
    """A normalized copy of a text, with the offsets needed to map positions back.

    Only runs of two or more whitespace characters change length; ``run_starts`` holds the
    normalized offset of each such run and ``shifts[i]`` the number of original characters
    removed by the first ``i`` runs.
    """

    text: str
    original_length: int
    run_starts: tuple[int, ...]
    shifts: tuple[int, ...]

    def to_original(self, offset: int) -> int:
        """Map an offset (a boundary between characters) in ``text`` to the original text.

        The boundary before a collapsed whitespace run maps to the start of the run, the
        boundary after it to the end of the run.
        """
        if offset >= len(self.text):
            return self.original_length
        return offset + self.shifts[bisect_left(self.run_starts, offset)]

    def to_normalized(self, offset: int) -> int:
        """Map an original offset to the normalized text (inside a whitespace run: after it)."""
        # Runs that start (in the original text) before the offset.
        before = 0
        high = len(self.run_starts)
        while before < high:
            mid = (before + high) // 2
            if self.run_starts[mid] + self.shifts[mid] < offset:
                before = mid + 1
            else:
                high = mid
        if before == 0:
            return min(offset, len(self.text))
        run = before - 1
        run_end = self.run_starts[run] + self.shifts[run + 1] + 1  # original end of the run
        if offset < run_end:  # inside a run: just after its single normalized space
            return self.run_starts[run] + 1
        return min(offset - self.shifts[before], len(self.text))


def normalize_string(text: str) -> str:
    """Normalize quotes/apostrophes to ASCII and every run of whitespace to a single space."""
    return _WHITESPACE.sub(" ", text.translate(_QUOTES))


@lru_cache(maxsize=16)
def normalize(text: str) -> NormalizedText:
    """Normalize ``text`` (see :func:`normalize_string`) and keep the offset mapping.

    Cached: re-anchoring every comment of an article normalizes the article once.
    """
    run_starts: list[int] = []
    shifts: list[int] = [0]
    removed = 0
    for run in _WHITESPACE_RUN.finditer(text):
        run_starts.append(run.start() - removed)
        removed += run.end() - run.start() - 1
        shifts.append(removed)
    return NormalizedText(
        text=normalize_string(text),
        original_length=len(text),
        run_starts=tuple(run_starts),
        shifts=tuple(shifts),
    )


def describe(text: str, start: int, end: int) -> Anchor:
    """Build the selectors for the selection ``text[start:end]``.

    ``prefix`` and ``suffix`` are the (up to) 32 characters before ``start`` and after
    ``end``, shorter at the edges of the text. Raises ``ValueError`` for an empty or
    out-of-range selection.
    """
    if not 0 <= start < end <= len(text):
        raise ValueError(f"invalid selection {start}..{end} of a text of {len(text)} characters")
    return Anchor(
        exact=text[start:end],
        prefix=text[max(0, start - CONTEXT_LENGTH) : start],
        suffix=text[end : end + CONTEXT_LENGTH],
        start=start,
        end=end,
    )


def _distance(query: str, target: str, mode: str) -> int:
    """Edit distance of ``query`` against ``target`` in edlib ``mode``; -1 if not computable."""
    try:
        result = edlib.align(query, target, mode=mode, task="distance")
    except ValueError:  # more than 256 distinct characters
        query, target = _small_alphabet(query, target)
        result = edlib.align(query, target, mode=mode, task="distance")
    return int(result["editDistance"])


def _small_alphabet(query: str, target: str) -> tuple[str, str]:
    """Rewrite both strings so edlib's 256-symbol limit holds, without changing distances.

    Characters absent from ``query`` can only ever be mismatches, so they all become one
    placeholder; if ``query`` itself has too many distinct characters the rarest are merged.
    """
    alphabet = sorted(set(query), key=query.count, reverse=True)[:254]
    table = {char: chr(0x100 + index) for index, char in enumerate(alphabet)}
    other = chr(0x100 + 255)
    return (
        "".join(table.get(char, other) for char in query),
        "".join(table.get(char, other) for char in target),
    )


def _prefix_similarity(prefix: str, text: str, start: int) -> float:
    """How well the normalized ``prefix`` agrees with the text ending at ``start`` (0..1)."""
    if not prefix:
        return 1.0
    window = text[max(0, start - len(prefix) - 8) : start]
    if window.endswith(prefix):
        return 1.0
    # Align the ends: reverse both and align the query at the start of the target.
    errors = _distance(prefix[::-1], window[::-1], "SHW")
    return max(0.0, 1.0 - errors / len(prefix))


def _suffix_similarity(suffix: str, text: str, end: int) -> float:
    """How well the normalized ``suffix`` agrees with the text starting at ``end`` (0..1)."""
    if not suffix:
        return 1.0
    window = text[end : end + len(suffix) + 8]
    if window.startswith(suffix):
        return 1.0
    errors = _distance(suffix, window, "SHW")
    return max(0.0, 1.0 - errors / len(suffix))


@dataclass
class _Candidate:
    start: int  # normalized offsets
    end: int
    quote: float
    prefix: float
    suffix: float
    position: float

    @property
    def score(self) -> float:
        return (
            _QUOTE_WEIGHT * self.quote
            + _PREFIX_WEIGHT * self.prefix
            + _SUFFIX_WEIGHT * self.suffix
            + _POSITION_WEIGHT * self.position
        ) / _TOTAL_WEIGHT

    @property
    def context(self) -> float:
        return max(self.prefix, self.suffix)


class _Scorer:
    """Scores candidate spans of the normalized text against one anchor."""

    def __init__(self, norm: NormalizedText, anchor: Anchor):
        self.norm = norm
        self.prefix = normalize_string(anchor.prefix)
        self.suffix = normalize_string(anchor.suffix)
        self.hint = norm.to_normalized(anchor.start)
        self.scale = max(len(norm.text), 1)

    def candidate(self, start: int, end: int, quote: float) -> _Candidate:
        text = self.norm.text
        return _Candidate(
            start=start,
            end=end,
            quote=quote,
            prefix=_prefix_similarity(self.prefix, text, start),
            suffix=_suffix_similarity(self.suffix, text, end),
            position=max(0.0, 1.0 - abs(start - self.hint) / self.scale),
        )

    def refine(self, exact: str, candidate: _Candidate, reach: int) -> _Candidate:
        """Move the boundaries of a fuzzy match to where quote and context agree best.

        An edit near either end of the quote leaves the boundary ambiguous for the infix
        search alone (deleting "federal " from "A federal grant" aligns as well to
        "…es. A grant" as to "A grant"); the prefix and suffix settle it.
        """
        text = self.norm.text
        start, end = candidate.start, candidate.end
        prefix, suffix = self.prefix, self.suffix

        def start_cost(offset: int) -> tuple[int, int]:
            quote_errors = _distance(exact, text[offset:end], "NW")
            context_errors = (
                _distance(
                    prefix[::-1], text[max(0, offset - len(prefix) - 8) : offset][::-1], "SHW"
                )
                if prefix
                else 0
            )
            return quote_errors + context_errors, abs(offset - candidate.start)

        if candidate.prefix < 1.0:  # otherwise the start already agrees with the context
            start = min(
                range(max(0, start - reach), min(end - 1, start + reach) + 1), key=start_cost
            )

        def end_cost(offset: int) -> tuple[int, int]:
            quote_errors = _distance(exact, text[start:offset], "NW")
            context_errors = (
                _distance(suffix, text[offset : offset + len(suffix) + 8], "SHW") if suffix else 0
            )
            return quote_errors + context_errors, abs(offset - candidate.end)

        if candidate.suffix < 1.0 or start != candidate.start:
            end = min(
                range(max(start + 1, end - reach), min(len(text), end + reach) + 1), key=end_cost
            )
        if (start, end) == (candidate.start, candidate.end):
            return candidate
        errors = _distance(exact, text[start:end], "NW")
        return self.candidate(start, end, max(0.0, 1.0 - errors / len(exact)))


def _to_match(
    norm: NormalizedText, candidate: _Candidate, method: Literal["quote", "fuzzy"]
) -> Match:
    return Match(
        start=norm.to_original(candidate.start),
        end=norm.to_original(candidate.end),
        method=method,
        score=round(candidate.score, 4),
    )


def _best(candidates: list[_Candidate]) -> _Candidate:
    # Highest score; on a tie, the candidate nearest the old position, then the earliest.
    return max(candidates, key=lambda c: (c.score, c.position, -c.start))


def locate(text: str, anchor: Anchor) -> Match | None:
    """Find the passage described by ``anchor`` in ``text`` (the article's current plain text).

    Returns the passage's current span, or ``None`` when it can no longer be found (the
    comment is an orphan). See the module docstring for the strategies tried.
    """
    exact = normalize_string(anchor.exact)
    if not exact.strip():
        return None
    norm = normalize(text)
    scorer = _Scorer(norm, anchor)
    self_evident = len(exact) >= _SELF_EVIDENT_LENGTH

    # 1. Exact position.
    if 0 <= anchor.start < anchor.end <= len(text) and text[anchor.start : anchor.end] == (
        anchor.exact
    ):
        start = norm.to_normalized(anchor.start)
        candidate = scorer.candidate(start, start + len(exact), 1.0)
        if self_evident or candidate.context >= _MIN_CONTEXT:
            return Match(start=anchor.start, end=anchor.end, method="position", score=1.0)

    # 2. Exact quote, anywhere.
    haystack = norm.text
    occurrences: list[int] = []
    found = haystack.find(exact)
    while found != -1:
        occurrences.append(found)
        found = haystack.find(exact, found + 1)
    if occurrences:
        if len(occurrences) == 1:
            best = scorer.candidate(occurrences[0], occurrences[0] + len(exact), 1.0)
        else:
            best = _best([scorer.candidate(s, s + len(exact), 1.0) for s in occurrences])
        return _to_match(norm, best, "quote")

    # 3. Approximate quote.
    max_errors = max(1, int(len(exact) * _MAX_ERROR_RATE))
    try:
        result = edlib.align(exact, haystack, mode="HW", task="locations", k=max_errors)
    except ValueError:  # more than 256 distinct characters
        query, target = _small_alphabet(exact, haystack)
        result = edlib.align(query, target, mode="HW", task="locations", k=max_errors)
    errors = int(result["editDistance"])
    if errors < 0:
        return None
    similarity = 1.0 - errors / len(exact)
    candidates = [
        scorer.candidate(start, end + 1, similarity)
        for start, end in result["locations"]
        if start is not None and end >= start
    ]
    if not candidates:
        return None
    best = _best(candidates)
    best = scorer.refine(exact, best, min(max_errors, _MAX_BOUNDARY_SHIFT))
    if best.quote >= _MIN_QUOTE_SIMILARITY:
        accepted = self_evident or best.context >= _MIN_CONTEXT
    else:
        # A heavier rewrite inside the passage is still the passage when both of its
        # neighbours are where they were.
        accepted = best.quote >= _MIN_QUOTE_SIMILARITY_IN_CONTEXT and (
            min(best.prefix, best.suffix) >= _MIN_CONTEXT_FOR_REWRITES
        )
    return _to_match(norm, best, "fuzzy") if accepted else None
