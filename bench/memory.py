"""Resident memory of every process of a server while it is under load.

The target: at most 120 MB resident per process. `RssSampler` reads VmRSS
(and VmHWM, the kernel's peak of it) from /proc/PID/status of every process
in the server's process group (the parent, i.e. Granian's main process or
gunicorn's master, and each worker) every INTERVAL_S seconds in a thread of
the harness, while the thread-read benchmark (bench/run.py) and the posting
benchmark (bench/posting.py) load the server. For each process it keeps:

- steady: the median of its samples during the measured load (the last
  `duration` seconds, after the warm-up);
- peak under load: the highest sample from the start of the warm-up to the
  end of the load;
- VmHWM: the highest resident size the kernel saw for it since it started,
  seeding and start-up included.

The `memory` benchmark (`--benchmark memory`) writes these figures of the
two loads, run in the same invocation, as their own section of
docs/benchmarks.md.
"""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path
from typing import Any

import report
from support import group_pids

BENCH_KEY = "memory"
INTERVAL_S = 0.25
TARGET_MIB = 120.0  # per process; the "120 MB" read as MiB, the unit of /proc
TARGET_SERVER = "Townhall"


def _status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (KiB) and the parent pid of one process; empty if it is gone."""
    found: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                found[name] = int(value.split()[0])
            elif name == "PPid":
                found[name] = int(value)
    except OSError:
        return {}
    return found if "VmRSS" in found else {}


def _pss_kib(pid: int) -> int | None:
    """Proportional set size from /proc/PID/smaps_rollup (shared pages shared out), if readable."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _command(pid: int) -> str:
    """The first words of a process's command line, to tell processes apart in the JSON."""
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return ""
    return " ".join(Path(w.decode(errors="replace")).name for w in words[:3] if w)


class RssSampler:
    """Samples the resident size of every process of a process group in a background thread.

    Use as a context manager around a load; `load_window(seconds)` marks the
    last `seconds` before it is called as the measured load.
    """

    def __init__(self, pgid: int, interval: float = INTERVAL_S) -> None:
        self.pgid = pgid
        self.interval = interval
        self.samples: dict[int, list[tuple[float, int]]] = {}
        self.pss: dict[int, list[tuple[float, int]]] = {}
        self.hwm: dict[int, int] = {}
        self.roles: dict[int, str] = {}
        self.commands: dict[int, str] = {}
        self.started = 0.0
        self.window: tuple[float, float] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> RssSampler:
        self.started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def load_window(self, seconds: float) -> None:
        """Mark the `seconds` before now as the measured load (call right after it ends)."""
        end = time.monotonic()
        self.window = (end - seconds, end)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def _sample(self) -> None:
        now = time.monotonic()
        for pid in group_pids(self.pgid):
            status = _status(pid)
            if not status:
                continue
            if pid not in self.roles:
                if pid == self.pgid:
                    self.roles[pid] = "parent"
                elif status.get("PPid") == self.pgid:
                    self.roles[pid] = "worker"
                else:
                    self.roles[pid] = "other"
                self.commands[pid] = _command(pid)
            self.samples.setdefault(pid, []).append((now, status["VmRSS"]))
            pss = _pss_kib(pid)
            if pss is not None:
                self.pss.setdefault(pid, []).append((now, pss))
            self.hwm[pid] = max(self.hwm.get(pid, 0), status.get("VmHWM", 0))

    def _in_load(self, samples: list[tuple[float, int]]) -> list[int]:
        window = self.window
        return [kib for t, kib in samples if window and window[0] <= t <= window[1]]

    def summary(self) -> dict[str, Any]:
        """Per process: role, samples, steady (median in the load), peak under load, VmHWM."""
        processes = []
        workers = 0
        for pid in sorted(self.samples, key=lambda p: (self.roles[p] != "parent", p)):
            samples = self.samples[pid]
            in_load = self._in_load(samples)
            pss_in_load = self._in_load(self.pss.get(pid, []))
            role = self.roles[pid]
            if role == "worker":
                workers += 1
                role = f"worker {workers}"
            processes.append(
                {
                    "pid": pid,
                    "role": role,
                    "command": self.commands[pid],
                    "samples": len(samples),
                    "samples_in_load": len(in_load),
                    "steady_kib": statistics.median(in_load) if in_load else None,
                    "pss_steady_kib": statistics.median(pss_in_load) if pss_in_load else None,
                    "peak_kib": max(rss for _t, rss in samples),
                    "hwm_kib": self.hwm[pid],
                }
            )
        return {"interval_s": self.interval, "processes": processes}


def peak_mib(process: dict[str, Any]) -> float:
    """The highest of a process's figures (sampled peak under load, VmHWM), in MiB."""
    return max(process["peak_kib"], process["hwm_kib"]) / 1024


# ---- the report ------------------------------------------------------------------------------

HEADERS = [
    "Load",
    "Server",
    "Process",
    "Steady under load (MiB)",
    "Peak under load (MiB)",
    "Peak since start, VmHWM (MiB)",
    "PSS under load (MiB)",
]


def _mib(kib: float | None) -> str:
    return "n/a" if kib is None else report.number(kib / 1024)


def rows(loads: list[dict[str, Any]]) -> list[list[str]]:
    """One row per process of each server of each load."""
    table = []
    for load in loads:
        for server in load["servers"]:
            for p in server["rss"]["processes"]:
                table.append(
                    [
                        load["label"],
                        server["name"],
                        p["role"],
                        _mib(p["steady_kib"]),
                        _mib(p["peak_kib"]),
                        _mib(p["hwm_kib"]),
                        _mib(p.get("pss_steady_kib")),
                    ]
                )
    return table


def verdicts(loads: list[dict[str, Any]]) -> tuple[bool, str]:
    """Whether every Townhall process stayed within the target, and the largest one."""
    worst: tuple[float, str] = (0.0, "")
    for load in loads:
        for server in load["servers"]:
            if server["name"] != TARGET_SERVER:
                continue
            for p in server["rss"]["processes"]:
                size = peak_mib(p)
                if size > worst[0]:
                    worst = (size, f"{p['role']} during {load['label']}")
    met = worst[0] <= TARGET_MIB
    megabytes = worst[0] * 1.048576
    decimal = "within" if megabytes <= TARGET_MIB else "over"
    return met, (
        f"largest {worst[0]:.1f} MiB, {worst[1]}; that is {megabytes:.1f} MB, {decimal} "
        f"{TARGET_MIB:.0f} MB in decimal units too"
    )


def section_markdown(env: dict[str, Any], loads: list[dict[str, Any]]) -> str:
    """The docs/benchmarks.md section of the memory figures."""
    m = env["machine"]
    met, worst = verdicts(loads)
    busy = "; ".join(
        f"{load['label']}: "
        + ", ".join(f"{s['name']} {s['background_cpu_busy']:.0%}" for s in load["servers"])
        for load in loads
    )
    described = "\n".join(f"  - **{load['label']}**: {load['description']}" for load in loads)
    return f"""
## Resident memory per process under load

- **Date**: {env["date"]}
- **Machine**: {m["cpu"]}, {m["cores"]} cores, {m["ram_gib"]} GiB RAM, {m["os"]}, \
kernel {m["kernel"]}
- **Software**: harness on Python {env["harness_python"]}; {env["software"]}

### Command

```sh
{env["command"]}
```

(`python bench/run.py --benchmark memory` reruns this section; it runs the thread read and the
posting benchmarks, whose sections it updates too, and reads memory during their loads.)

### Method

- **What is read**: `VmRSS` of every process of each server's process group (the parent:
Granian's main process or gunicorn's master; each worker), from `/proc/PID/status`, every
{INTERVAL_S} s by a thread of the harness, from the start of the warm-up to the end of the
load; and `VmHWM`, the kernel's record of each process's highest resident size since it
started (seeding and start-up included).
- **Steady** is the median of a process's samples during the measured load (after the
warm-up); **peak under load** the highest sample from the warm-up on. RSS counts pages a
worker shares with its parent (forked, or the same libraries) in full, in each process; PSS
(`/proc/PID/smaps_rollup`, median during the load) shares them out between the processes.
- **The loads** are those of the benchmarks above, run in this same invocation:
{described}
- **Background load** before each load (server idle): {busy}.

### Results

{report.table(HEADERS, rows(loads), text_columns=3)}

### Target

Every Townhall process at most {TARGET_MIB:.0f} MiB resident (RSS), its peak under both loads \
and since it started: **{"met" if met else "not met"}** ({worst}).
"""
