"""WordPress's ``wpautop``, in its essentials: how a stored comment becomes what readers saw."""

from __future__ import annotations

import re

_BLOCK = (
    "address|article|aside|blockquote|details|div|dl|dd|dt|fieldset|figcaption|figure|"
    "footer|form|h[1-6]|header|hr|li|main|nav|ol|p|pre|section|table|tbody|td|tfoot|th|"
    "thead|tr|ul"
)
_STARTS_WITH_BLOCK = re.compile(rf"^</?(?:{_BLOCK})\b", re.IGNORECASE)
_ENDS_WITH_BLOCK = re.compile(rf"</?(?:{_BLOCK})\b[^>]*>$", re.IGNORECASE)
_PRE = re.compile(r"<pre\b.*?</pre>", re.IGNORECASE | re.DOTALL)
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def autop(text: str) -> str:
    """WordPress's ``wpautop`` in its essentials: blank lines make paragraphs, single newlines
    make ``<br />``; paragraphs that are already block-level HTML and ``<pre>`` blocks are
    left as they are."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        return ""
    kept: list[str] = []

    def keep(match: re.Match[str]) -> str:
        kept.append(match.group(0))
        return f"\n\n\x00{len(kept) - 1}\x00\n\n"

    text = _PRE.sub(keep, text)
    paragraphs: list[str] = []
    for block in _PARAGRAPH_BREAK.split(text):
        block = block.strip()
        if not block:
            continue
        if block.startswith("\x00"):
            paragraphs.append(kept[int(block.strip("\x00"))])
        elif _STARTS_WITH_BLOCK.match(block) or _ENDS_WITH_BLOCK.search(block):
            paragraphs.append(block)
        else:
            paragraphs.append("<p>" + block.replace("\n", "<br />\n") + "</p>")
    return "\n".join(paragraphs)
