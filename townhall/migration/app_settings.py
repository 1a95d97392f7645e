"""Migration settings, from TOWNHALL_* environment variables."""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings

from townhall.config import env


def import_max_bytes() -> int:
    """The largest file the staff page takes (``TOWNHALL_IMPORT_MAX_BYTES``, default 2 GiB); the
    command line has no limit."""
    return env.get_int("IMPORT_MAX_BYTES", 2 * 1024**3)


def upload_dir() -> Path:
    """Where the staff page keeps uploaded files until the worker has imported them."""
    return Path(settings.VAR_DIR) / "imports"


def import_render_processes() -> int:
    """Processes that render comment text during a large import (``TOWNHALL_IMPORT_PROCESSES``;
    default: one per core but one, at most 4). 0 renders in the importing process itself.

    Measured on 2 cores (20,000 Disqus posts, SQLite): 0 → 380 µs a comment, 1 → 230 µs,
    2 → 340 µs (the importing process then competes with both for the cores)."""
    default = min((os.cpu_count() or 1) - 1, 4)
    return max(env.get_int("IMPORT_PROCESSES", default), 0)
