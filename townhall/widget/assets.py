"""The embed script: one file, assembled once per process from its source and locale files.

No build step: ``embed.js`` is served as written (less its whole-line comments and indentation),
with the locale files inlined as one object, and addressed by a hash of the result so it can be
cached for a year. ``anchoring.js`` (the re-anchoring of passage comments) and ``inline.js``
(the Inline Feedbacks part of the widget, which uses it) are served the same way, as one file,
``embed-anchoring.js``; the widget loads it only on pages with an article element, from the
hashed URL written into ``embed.js``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

HERE = Path(__file__).parent
SOURCE = HERE / "static_src" / "embed.js"
ANCHORING = HERE / "static_src" / "anchoring.js"
INLINE = HERE / "static_src" / "inline.js"
STYLES = HERE / "static_src" / "embed.css"
LOCALES = HERE / "locales"
# A line that is only a comment: `// ...`, or a `/* ... */` block (which may span lines).
COMMENT_LINES = re.compile(r"^[ \t]*(?://[^\n]*|/\*(?:(?!\*/).)*\*/[ \t]*)\n", re.M | re.S)
INDENT = re.compile(r"^[ \t]+", re.M)


def compact(source: str) -> str:
    """The source without its whole-line comments and its indentation: for readers of the
    source, not worth their bytes on every page.

    Indentation is only taken away where no line is inside a template literal or a string
    continued with a backslash (a line with an odd number of backticks, or ending with one):
    the source must keep to that, which ``tests/widget/test_embed.py`` checks.
    """
    code = COMMENT_LINES.sub("", source)
    if any(line.count("`") % 2 or line.endswith("\\") for line in code.split("\n")):
        raise ValueError("a template literal or string spans lines: indentation would change it")
    return INDENT.sub("", code)


@dataclass(frozen=True)
class Script:
    body: bytes
    digest: str
    gzipped: bytes


def _script(body: bytes) -> Script:
    digest = hashlib.sha256(body).hexdigest()[:16]
    return Script(body=body, digest=digest, gzipped=gzip.compress(body, 9))


@cache
def anchoring_script() -> Script:
    source = ANCHORING.read_text("utf-8") + "\n" + INLINE.read_text("utf-8")
    return _script(compact(source).encode("utf-8"))


def anchoring_script_url() -> str:
    return f"/embed-anchoring.{anchoring_script().digest}.js"


@cache
def embed_script() -> Script:
    locales = {
        path.stem: json.loads(path.read_text("utf-8")) for path in sorted(LOCALES.glob("*.json"))
    }
    locales_js = json.dumps(locales, ensure_ascii=False, separators=(",", ":"))
    css_js = json.dumps(" ".join(STYLES.read_text("utf-8").split()))
    source = compact(SOURCE.read_text("utf-8"))
    body = (
        source.replace("/*@LOCALES@*/{}", locales_js)
        .replace('"/*@CSS@*/"', css_js)
        .replace('"/*@ANCHORING@*/"', json.dumps(anchoring_script_url()))
        .encode("utf-8")
    )
    return _script(body)


def embed_script_url() -> str:
    """The script's path with its content hash, cacheable for a year."""
    return f"/embed.{embed_script().digest}.js"
