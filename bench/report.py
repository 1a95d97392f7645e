"""Machine facts and the Markdown writer for docs/benchmarks.md.

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


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Render a Markdown table; the first column is left-aligned, the rest right-aligned."""
    align = [":---"] + ["---:"] * (len(headers) - 1)
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


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
