"""The moderators' pages' script and style sheet, served by Townhall itself (staticfiles is not
served in production, and there is no build step) under a hash of their content, so that a
browser may keep them a year."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SOURCES = Path(__file__).parent / "static_src"
CONTENT_TYPES = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}


@dataclass(frozen=True)
class Asset:
    ext: str
    body: bytes
    digest: str

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.ext]


@cache
def asset(ext: str) -> Asset:
    """``moderate.js`` or ``moderate.css``, read once per process."""
    body = (SOURCES / f"moderate.{ext}").read_bytes()
    return Asset(ext=ext, body=body, digest=hashlib.sha256(body).hexdigest()[:16])
