"""The embed script: one file, assembled once per process from its source and locale files.

No build step: ``embed.js`` is served as written, with the locale files inlined as one object,
and addressed by a hash of the result so it can be cached for a year.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

HERE = Path(__file__).parent
SOURCE = HERE / "static_src" / "embed.js"
STYLES = HERE / "static_src" / "embed.css"
LOCALES = HERE / "locales"


@dataclass(frozen=True)
class Script:
    body: bytes
    digest: str
    gzipped: bytes


@cache
def embed_script() -> Script:
    locales = {
        path.stem: json.loads(path.read_text("utf-8")) for path in sorted(LOCALES.glob("*.json"))
    }
    locales_js = json.dumps(locales, ensure_ascii=False, separators=(",", ":"))
    css_js = json.dumps(" ".join(STYLES.read_text("utf-8").split()))
    source = SOURCE.read_text("utf-8")
    body = (
        source.replace("/*@LOCALES@*/{}", locales_js).replace('"/*@CSS@*/"', css_js).encode("utf-8")
    )
    digest = hashlib.sha256(body).hexdigest()[:16]
    return Script(body=body, digest=digest, gzipped=gzip.compress(body, 9))


def embed_script_url() -> str:
    """The script's path with its content hash, cacheable for a year."""
    return f"/embed.{embed_script().digest}.js"
