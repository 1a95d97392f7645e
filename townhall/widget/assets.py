"""The embed script: one file, assembled once per process from its source and locale files.

No build step: ``embed.js`` is served as written, minified when it is assembled (rjsmin for the
script, rcssmin for its stylesheet: whitespace and comments only, no renaming), with the locale
files inlined as one object, and addressed by a hash of the result so it can be cached for a
year. ``anchoring.js`` (the re-anchoring of passage comments) and ``inline.js`` (the Inline
Feedbacks part of the widget, which uses it) are served the same way, as one file,
``embed-anchoring.js``; the widget loads it only on pages with an article element, from the
hashed URL written into ``embed.js``. ``support.js`` (the reader-support goal bar and Support
button, with its stylesheet ``support.css`` and the ``"support"`` strings of each locale file)
is served alike as ``embed-support.js``, loaded only on pages with a campaign element or when
the widget offers the "Support" prompt after a post. ``account.js`` (sign-in by magic link or the
publisher's SSO, and the account menu: export, deletion, claim, sign out; with ``account.css``
and the ``"account"`` strings) is ``embed-account.js``, loaded when the reader opens "Sign in" or
when the page brings a session, an SSO token or a magic link.
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
SUPPORT = HERE / "static_src" / "support.js"
SUPPORT_STYLES = HERE / "static_src" / "support.css"
ACCOUNT = HERE / "static_src" / "account.js"
ACCOUNT_STYLES = HERE / "static_src" / "account.css"
LOCALES = HERE / "locales"
# The key, in each locale file, of the strings that go into support.js instead of embed.js.
SUPPORT_STRINGS = "support"
# The key of the strings that go into account.js.
ACCOUNT_STRINGS = "account"
INLINE_STRINGS = "inline"  # the "inline" section of each locale file: inline.js's strings
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
    return _with_markers(minify(source), LOCALES=_section(INLINE_STRINGS))


def anchoring_script_url() -> str:
    return f"/embed-anchoring.{anchoring_script().digest}.js"


@cache
def locales() -> dict[str, dict]:
    """Each locale file's strings, by language tag."""
    return {
        path.stem: json.loads(path.read_text("utf-8")) for path in sorted(LOCALES.glob("*.json"))
    }


def _section(name: str) -> dict[str, dict]:
    """One section of every locale file, by language tag: a lazily loaded module's strings."""
    return {tag: texts[name] for tag, texts in locales().items()}


def _assemble(path: Path, **markers: object) -> Script:
    """The minified script at ``path``, its markers replaced."""
    return _with_markers(minify(path.read_text("utf-8")), **markers)


def _with_markers(source: str, **markers: object) -> Script:
    """``source`` with each ``"/*@NAME@*/"`` replaced by its value as JSON."""
    for name, value in markers.items():
        source = source.replace(
            f'"/*@{name}@*/"', json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        )
    return _script(source.encode("utf-8"))


def _lazy_module(source: Path, styles: Path, strings: str) -> Script:
    """A part of the widget loaded only where it is needed: its script with its own section of
    every locale file and its own stylesheet, none of which ``embed.js`` carries."""
    return _assemble(
        source,
        LOCALES=_section(strings),
        CSS=rcssmin.cssmin(styles.read_text("utf-8")),
    )


@cache
def support_script() -> Script:
    return _lazy_module(SUPPORT, SUPPORT_STYLES, SUPPORT_STRINGS)


def support_script_url() -> str:
    return f"/embed-support.{support_script().digest}.js"


@cache
def account_script() -> Script:
    return _lazy_module(ACCOUNT, ACCOUNT_STYLES, ACCOUNT_STRINGS)


def account_script_url() -> str:
    return f"/embed-account.{account_script().digest}.js"


@cache
def embed_script() -> Script:
    return _assemble(
        SOURCE,
        LOCALES={
            tag: {
                key: text
                for key, text in strings.items()
                if key not in (SUPPORT_STRINGS, ACCOUNT_STRINGS, INLINE_STRINGS)
            }
            for tag, strings in locales().items()
        },
        CSS=rcssmin.cssmin(STYLES.read_text("utf-8")),
        ANCHORING=anchoring_script_url(),
        SUPPORT=support_script_url(),
        ACCOUNT=account_script_url(),
    )


_PAGE_CSS = re.compile(r"const PAGE_CSS = ((?:\s*\+?\s*\"[^\"]*\")+);")


def style_sheets() -> list[str]:
    """Every style sheet the widget's scripts put into a page as a ``<style>`` element, as
    they put it: the Content-Security-Policy of Townhall's own pages allows these by hash."""
    sheets = [
        rcssmin.cssmin(path.read_text("utf-8")) for path in (STYLES, SUPPORT_STYLES, ACCOUNT_STYLES)
    ]
    found = _PAGE_CSS.search(INLINE.read_text("utf-8"))
    if found is None:
        raise ValueError("inline.js: PAGE_CSS is not a concatenation of string literals")
    sheets.append("".join(json.loads(part) for part in re.findall(r'"[^"]*"', found.group(1))))
    return sheets


def embed_script_url() -> str:
    """The script's path with its content hash, cacheable for a year."""
    return f"/embed.{embed_script().digest}.js"
