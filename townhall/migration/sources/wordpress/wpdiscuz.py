"""wpDiscuz's data in a WordPress export: its vote counts and its inline-feedback passages.

The formats, as wpDiscuz 7 writes them (gVectors/wpdiscuz):

- comment meta ``wpdiscuz_votes``: the net score, as a string;
- comment meta ``wpdiscuz_votes_seperate`` (sic): ``serialize(["like" => int, "dislike" =>
  int])``, both counts positive;
- in the post, ``[wpdiscuz-feedback id="…" question="…" opened="0|1"]passage[/wpdiscuz-feedback]``
  (``id``: ten random base-36 characters from the editor button);
- comment meta ``wpdiscuz_feedback_form_id``: the id of the shortcode's row in wpDiscuz's own
  ``wc_feedback_forms`` table, which is not in the export (see :class:`Feedback`).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from townhall.discussions.anchoring import CONTEXT_LENGTH

META_VOTES = "wpdiscuz_votes"
META_VOTES_SEPARATE = "wpdiscuz_votes_seperate"  # sic: wpDiscuz's spelling
META_FEEDBACK_FORM = "wpdiscuz_feedback_form_id"
FEEDBACK_SHORTCODE = "wpdiscuz-feedback"
# Townhall's passage ids (discussions.schemas.Passage.id).
_PASSAGE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def votes(meta: dict[str, str]) -> tuple[int, int, str]:
    """(upvotes, downvotes, problem) from wpDiscuz's comment meta."""
    separate = meta.get(META_VOTES_SEPARATE)
    problem = ""
    if separate:
        try:
            counts = unserialize(separate)
            if not isinstance(counts, dict):
                raise PHPSerializeError(f"an array was expected, not {type(counts).__name__}")
            like, dislike = _count(counts.get("like", 0)), _count(counts.get("dislike", 0))
            return like, dislike, ""
        except PHPSerializeError as exc:
            problem = f"{META_VOTES_SEPARATE} unreadable ({exc}); the net score is used"
    net_text = meta.get(META_VOTES, "").strip()
    try:
        net = int(float(net_text)) if net_text else 0
    except ValueError:
        return 0, 0, f"{META_VOTES} is not a number: {net_text!r}"
    return max(net, 0), max(-net, 0), problem


def _count(value: object) -> int:
    try:
        # wpDiscuz counts dislikes up from 0; a negative count would be a sign mix-up.
        return abs(int(value))  # type: ignore[call-overload]
    except (TypeError, ValueError) as exc:
        raise PHPSerializeError(f"a count is not a number: {value!r}") from exc


class PHPSerializeError(ValueError):
    pass


_PHP_SCALAR = re.compile(rb"(?:i:(-?\d+)|d:(-?[\d.eE+-]+|INF|-INF|NAN)|b:([01])|(N));")
_PHP_HEADER = re.compile(rb"([sa]):(\d+):")
_PHP_DEPTH = 4


def unserialize(text: str) -> Any:
    """A PHP ``serialize()`` value made of arrays, strings, numbers, booleans and nulls.

    Objects and references are refused (nothing in WordPress comment meta that Townhall reads
    has them, and they are how PHP's own unserialize is attacked); so is anything trailing.
    Raises ``PHPSerializeError``.
    """
    data = text.strip().encode()
    value, end = _php_value(data, 0, 0)
    if end != len(data):
        raise PHPSerializeError(f"unexpected data at byte {end}")
    return value


def _php_value(data: bytes, at: int, depth: int) -> tuple[Any, int]:
    scalar = _PHP_SCALAR.match(data, at)
    if scalar:
        integer, decimal, boolean, _null = scalar.groups()
        if integer is not None:
            return int(integer), scalar.end()
        if decimal is not None:
            return float(decimal), scalar.end()
        if boolean is not None:
            return boolean == b"1", scalar.end()
        return None, scalar.end()
    header = _PHP_HEADER.match(data, at)
    if header is None:
        raise PHPSerializeError(f"unsupported value at byte {at}: {data[at : at + 12]!r}")
    kind, size = header.group(1), int(header.group(2))
    at = header.end()
    if kind == b"s":
        # The length counts bytes, not characters.
        if data[at : at + 1] != b'"' or data[at + 1 + size : at + 3 + size] != b'";':
            raise PHPSerializeError(f"malformed string at byte {at}")
        try:
            return data[at + 1 : at + 1 + size].decode(), at + 3 + size
        except UnicodeDecodeError as exc:
            raise PHPSerializeError(f"string at byte {at} is not UTF-8") from exc
    if depth >= _PHP_DEPTH:
        raise PHPSerializeError("arrays nested too deep")
    if data[at : at + 1] != b"{":
        raise PHPSerializeError(f"malformed array at byte {at}")
    at += 1
    array: dict[Any, Any] = {}
    for _ in range(size):
        key, at = _php_value(data, at, depth + 1)
        if not isinstance(key, int | str) or isinstance(key, bool):
            raise PHPSerializeError(f"array key {key!r} is neither an integer nor a string")
        array[key], at = _php_value(data, at, depth + 1)
    if data[at : at + 1] != b"}":
        raise PHPSerializeError(f"array of {size} items does not end at byte {at}")
    return array, at + 1


# --- inline feedback ----------------------------------------------------------------------


_SHORTCODE = re.compile(
    r"(?P<open>\[?)\[wpdiscuz-feedback(?![\w-])(?P<attrs>[^\]]*)\]"
    r"(?P<passage>.*?)\[/wpdiscuz-feedback\](?P<close>\]?)",
    re.DOTALL | re.IGNORECASE,
)
# WordPress's shortcode attribute forms: name="v", name='v', name=v, "v", v.
_ATTRIBUTE = re.compile(
    r"""([\w-]+)\s*=\s*"([^"]*)"(?:\s|$)|([\w-]+)\s*=\s*'([^']*)'(?:\s|$)"""
    r"""|([\w-]+)\s*=\s*([^\s'"]+)(?:\s|$)"""
)
_TAG = re.compile(r"<!--.*?-->|<[^>]*>", re.DOTALL)


def _plain(fragment: str) -> str:
    """The text of an HTML fragment, as a browser's textContent has it."""
    return html.unescape(_TAG.sub("", fragment))


def shortcode_attributes(text: str) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for match in _ATTRIBUTE.finditer(text.replace("\u00a0", " ").strip() + " "):
        if match.group(1):
            attributes[match.group(1).lower()] = match.group(2)
        elif match.group(3):
            attributes[match.group(3).lower()] = match.group(4)
        elif match.group(5):
            attributes[match.group(5).lower()] = match.group(6)
    return attributes


@dataclass(frozen=True)
class _Passage:
    shortcode_id: str
    question: str
    exact: str
    start: int
    end: int


class Feedback:
    """The inline-feedback passages of one post, and which wpDiscuz form each comment names.

    Lives only while its item is read: built from the post's content and the form ids its
    comments carry.
    """

    def __init__(self, content: str, forms: list[str]) -> None:
        self.passages: list[_Passage] = []
        self.text = ""
        if FEEDBACK_SHORTCODE in content.lower():
            self._parse(content)
        self.by_form: dict[str, _Passage] = {p.shortcode_id: p for p in self.passages}
        numeric = sorted({int(f) for f in forms if f.isdigit() and f not in self.by_form} - {0})
        if len(self.passages) == 1:
            for form in numeric:
                self.by_form.setdefault(str(form), self.passages[0])
        elif numeric and len(numeric) == len(self.passages):
            for form, passage in zip(numeric, self.passages, strict=True):
                self.by_form.setdefault(str(form), passage)

    def _parse(self, content: str) -> None:
        parts: list[str] = []
        length = 0
        cursor = 0
        for match in _SHORTCODE.finditer(content):
            if match.group("open") and match.group("close"):
                continue  # [[…]]: an escaped, literal shortcode
            before = _plain(content[cursor : match.start()] + match.group("open"))
            parts.append(before)
            length += len(before)
            passage = _plain(match.group("passage"))
            attributes = shortcode_attributes(match.group("attrs"))
            # The passage without the whitespace around it (as a reader would select it).
            lead = len(passage) - len(passage.lstrip())
            exact = passage.strip()
            if exact:
                self.passages.append(
                    _Passage(
                        shortcode_id=attributes.get("id", "").strip(),
                        question=_plain(attributes.get("question", "")).strip(),
                        exact=exact,
                        start=length + lead,
                        end=length + lead + len(exact),
                    )
                )
            parts.append(passage)
            length += len(passage)
            cursor = match.end() - len(match.group("close"))
        parts.append(_plain(content[cursor:]))
        self.text = "".join(parts)

    def passage(self, form: str) -> tuple[dict[str, Any] | None, str]:
        """(Townhall passage, problem) for a comment naming wpDiscuz form ``form``."""
        found = self.by_form.get(form.strip())
        if found is None:
            if not self.passages:
                return None, (
                    f"inline feedback form {form} but the post has no [{FEEDBACK_SHORTCODE}] "
                    "passage; imported as a comment on the whole post"
                )
            return None, (
                f"inline feedback form {form} cannot be matched to one of the post's "
                f"{len(self.passages)} passages (wpDiscuz keeps its forms outside the export); "
                "imported as a comment on the whole post"
            )
        text = self.text
        return {
            "id": found.shortcode_id if _PASSAGE_ID.match(found.shortcode_id) else None,
            "quote": {
                "type": "TextQuoteSelector",
                "exact": found.exact,
                "prefix": text[max(0, found.start - CONTEXT_LENGTH) : found.start],
                "suffix": text[found.end : found.end + CONTEXT_LENGTH],
            },
            "position": {"type": "TextPositionSelector", "start": found.start, "end": found.end},
            "question": found.question,
        }, ""
