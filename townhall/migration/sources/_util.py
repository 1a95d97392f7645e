"""What several readers share: dates and the start of a file."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import BinaryIO

BOM = b"\xef\xbb\xbf"


def parse_time(text: str | None) -> datetime | None:
    """An ISO 8601 time as an aware datetime (UTC when it names no zone); None if it is not one."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class SkipToMarkup:
    """A binary file read from its first ``<``: some real exports start with a BOM or a stray
    character before ``<?xml``, which XML parsers refuse. ``head`` is the first bytes kept."""

    def __init__(self, raw: BinaryIO, limit: int = 64 * 1024) -> None:
        self.raw = raw
        start = raw.read(limit)
        if start.startswith(BOM):
            start = start[len(BOM) :]
        at = start.find(b"<")
        self.head = start[at:] if at >= 0 else b""
        self._pending = self.head

    def read(self, size: int = -1) -> bytes:
        if self._pending:
            if size is None or size < 0:
                data, self._pending = self._pending + self.raw.read(), b""
                return data
            data, self._pending = self._pending[:size], self._pending[size:]
            return data
        return self.raw.read(size)

    def close(self) -> None:
        self.raw.close()
