"""The embed script: one file, assembled once per process from its source and locale files.

No build step: ``embed.js`` is served as written, minified when it is assembled (rjsmin for the
script, rcssmin for its stylesheet: whitespace and comments only, no renaming), with the locale
files inlined as one object, and addressed by a hash of the result so it can be cached for a
year. ``anchoring.js`` (the re-anchoring of passage comments) and ``inline.js`` (the Inline
Feedbacks part of the widget, which uses it) are served the same way, as one file,
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

import rcssmin
import rjsmin

HERE = Path(__file__).parent
SOURCE = HERE / "static_src" / "embed.js"
ANCHORING = HERE / "static_src" / "anchoring.js"
INLINE = HERE / "static_src" / "inline.js"
STYLES = HERE / "static_src" / "embed.css"
LOCALES = HERE / "locales"
# A template literal inside another one's `${…}`: rjsmin minifies unnested ones only.
NESTED_TEMPLATE = re.compile(r"\$\{[^}`]*`")


def minify(source: str) -> str:
    """The script without the comments and whitespace it does not need (rjsmin).

    ValueError for a template literal nested in another's placeholder, which rjsmin could
    change; the widget's sources keep to that (``tests/widget/test_embed.py`` checks).
    """
    if NESTED_TEMPLATE.search(source):
        raise ValueError("a template literal is nested in another: rjsmin could change it")
    return rjsmin.jsmin(source)


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
    return _script(minify(source).encode("utf-8"))


def anchoring_script_url() -> str:
    return f"/embed-anchoring.{anchoring_script().digest}.js"


@cache
def embed_script() -> Script:
    locales = {
        path.stem: json.loads(path.read_text("utf-8")) for path in sorted(LOCALES.glob("*.json"))
    }
    locales_js = json.dumps(locales, ensure_ascii=False, separators=(",", ":"))
    css_js = json.dumps(rcssmin.cssmin(STYLES.read_text("utf-8")))
    source = minify(SOURCE.read_text("utf-8"))
    body = (
        source.replace('"/*@LOCALES@*/"', locales_js)
        .replace('"/*@CSS@*/"', css_js)
        .replace('"/*@ANCHORING@*/"', json.dumps(anchoring_script_url()))
        .encode("utf-8")
    )
    return _script(body)


def embed_script_url() -> str:
    """The script's path with its content hash, cacheable for a year."""
    return f"/embed.{embed_script().digest}.js"
