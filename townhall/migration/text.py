"""A source comment's text as Townhall stores it: Markdown ``body`` and its ``body_html``,
rendered by the one function every new comment goes through (``render_markdown``).

Kept free of Django so that the import's render processes (``Renderer``, started with
``spawn``) load only this, the Markdown renderer and the HTML converter.
"""

from __future__ import annotations

import multiprocessing
from typing import Any

from html_to_markdown import convert as html_to_markdown

from townhall.discussions.rendering import normalize_body, render_markdown, without_lone_surrogates


def comment_text(markdown: str | None, html: str | None) -> tuple[str, str]:
    """(body, body_html): HTML from the source is converted to Markdown first, then both are
    normalized as a posted body is (``normalize_body``) and rendered. A JSON
    source may hold lone surrogates, which no database can store: they become U+FFFD."""
    if markdown is None:
        markdown = html_to_markdown(without_lone_surrogates(html or "")).content or ""
    body = normalize_body(without_lone_surrogates(markdown))
    return body, render_markdown(body)


def comment_texts(items: list[tuple[str | None, str | None]]) -> list[tuple[str, str]]:
    return [comment_text(markdown, html) for markdown, html in items]


class Rendering:
    """The text of one batch, being rendered by the render processes (or not: ``get`` gives
    None and the batch is rendered as it is written)."""

    def __init__(self, parts: list[Any]) -> None:
        self.parts = parts

    def get(self) -> list[tuple[str, str]] | None:
        if not self.parts:
            return None
        return [text for part in self.parts for text in part.get()]


class Renderer:
    """Renders batches of comment text in other processes, so that with several cores the
    Markdown rendering (the costliest step of an import) runs beside the database writes.
    Started at the first full batch: small imports never start it. ``spawn``ed, not forked:
    a child of this process must not share its open database connection."""

    def __init__(self, processes: int, least: int) -> None:
        self.processes = processes
        self.least = least
        self.pool: Any = None

    def submit(self, texts: list[tuple[str | None, str | None]]) -> Rendering:
        """Starts rendering ``texts`` ((markdown, html) pairs); a batch smaller than ``least``
        is left to be rendered as it is written."""
        if self.processes < 1 or len(texts) < self.least:
            return Rendering([])
        if self.pool is None:
            self.pool = multiprocessing.get_context("spawn").Pool(self.processes)
        size = -(-len(texts) // self.processes)
        return Rendering(
            [
                self.pool.apply_async(comment_texts, (texts[start : start + size],))
                for start in range(0, len(texts), size)
            ]
        )

    def close(self, *, ok: bool) -> None:
        if self.pool is not None:
            if ok:
                self.pool.close()
            else:
                self.pool.terminate()
            self.pool.join()
            self.pool = None
