"""Machine facts, number formatting, tables and the section writer for docs/benchmarks.md.

docs/benchmarks.md holds one section per benchmark, each fenced by HTML
comment markers (`<!-- bench:KEY:start -->` ... `<!-- bench:KEY:end -->`).
A run rewrites only its own section and keeps every other one, so new
benchmarks can be added (as new sections, or new rows in a section's table)
without one run erasing another's results.
"""

from __future__ import annotations

import os
import platform
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from support import BUSY_WARNING

TIMES = "\u00d7"  # the multiplication sign, for ratios in the report

HEADER = """\
# Benchmarks

Measured with the harness in `bench/` (entry point `bench/run.py`). Each
section is rewritten by the benchmark that owns it; the others are kept.
Raw results of every run are saved as JSON under `bench/results/`.
"""


def machine() -> dict[str, Any]:
    """CPU model, core count, memory, OS and kernel of this machine."""
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": round(mem_kib / 1024 / 1024, 1),
        "os": _os_name(),
        "kernel": platform.release(),
    }


def _os_name() -> str:
    """PRETTY_NAME from /etc/os-release, e.g. 'Debian GNU/Linux 12 (bookworm)'."""
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return platform.system()
    match = re.search(r'^PRETTY_NAME="?([^"\n]*)"?', text, re.MULTILINE)
    return match.group(1) if match else platform.system()


def number(value: float) -> str:
    """Format a measurement with a precision that suits its size."""
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def ratio(value: float) -> str:
    """Format a ratio with two significant digits below 1 (0.0019x, not 0.00x)."""
    return f"{value:.2g}{TIMES}" if value < 1 else f"{number(value)}{TIMES}"


def load_notes(loads: Sequence[tuple[str, dict[str, Any]]]) -> str:
    """The lines under a results table on errors and background load, for (label, load) pairs.

    Each load is a dict from `wrk.measure` (or one that includes its keys).
    A run where other work kept the machine busy before a load is flagged.
    """
    errors = [f"{label}: {load['errors']}" for label, load in loads if load["errors"]]
    error_note = (
        "Errors or non-2xx answers during the load: " + "; ".join(errors)
        if errors
        else "No socket errors and no non-2xx answers during the load."
    )
    noisy = [label for label, load in loads if load["background_cpu_busy"] > BUSY_WARNING]
    noise_note = (
        f"\n**Noisy run**: other work kept the machine over {BUSY_WARNING:.0%} busy before "
        f"the load of {', '.join(noisy)} (see Method); rerun on a quiet machine.\n"
        if noisy
        else ""
    )
    return f"{error_note}\n{noise_note}"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], text_columns: int = 1) -> str:
    """Render a Markdown table; the first `text_columns` left-aligned, the rest right-aligned."""
    align = [":---"] * text_columns + ["---:"] * (len(headers) - text_columns)
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]], text_columns: int = 1) -> str:
    """Render an aligned plain-text table for stdout.

    The first `text_columns` columns are left-aligned, the numbers after them right-aligned.
    """
    lines = [headers, *rows]
    widths = [max(len(row[i]) for row in lines) for i in range(len(headers))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i < text_columns else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in lines
    )


def _markers(key: str) -> tuple[str, str]:
    """The start and end markers that fence a benchmark's section."""
    return f"<!-- bench:{key}:start -->", f"<!-- bench:{key}:end -->"


def upsert_section(path: Path, key: str, markdown: str) -> None:
    """Write `markdown` as the section `key` of `path`, replacing only that section.

    A missing file is created with a short header; a missing section is
    appended at the end.
    """
    start, end = _markers(key)
    block = f"{start}\n{markdown.strip()}\n{end}"
    text = path.read_text() if path.exists() else HEADER
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.rstrip("\n") + "\n")
