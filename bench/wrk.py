"""Install, run and parse `wrk`, the HTTP load generator used for every benchmark.

wrk is a small C program that keeps N connections busy and reports
throughput and a latency distribution; it costs far less CPU per request than
a Python client, which matters on a 2-core machine where the load generator
shares the CPU with the server under test.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
from typing import Any

from support import BUSY_WARNING, BenchError, cpu_busy_share, wait_until_idle

# wrk prints durations as 1.23us / 4.56ms / 1.20s / 1.00m and sizes as 1.23KB etc.
_TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_SIZE_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


def ensure_installed() -> str:
    """Return the path of wrk, installing Debian's `wrk` package with apt-get if missing."""
    path = shutil.which("wrk")
    if path:
        return path
    print("wrk (HTTP load generator) is not installed; installing Debian's 'wrk' with apt-get")
    if os.geteuid() != 0:
        raise BenchError("wrk is missing and this is not root: run `sudo apt-get install -y wrk`")
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(install, env=env, check=False).returncode != 0:
        # A fresh machine may have no package lists yet: update once, then retry.
        subprocess.run(["apt-get", "update", "-q"], env=env, check=False)
        if subprocess.run(install, env=env, check=False).returncode != 0:
            raise BenchError("could not install wrk with apt-get; install it by hand and rerun")
    path = shutil.which("wrk")
    if not path:
        raise BenchError("apt-get reported success but `wrk` is still not on PATH")
    return path


def version() -> str:
    """wrk's version string, e.g. '4.1.0', for the report."""
    result = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    match = re.search(r"wrk (\S+)", result.stdout + result.stderr)
    return match.group(1) if match else "unknown"


def command(url: str, threads: int, connections: int, duration: int, timeout: int) -> list[str]:
    """The exact wrk command line for one measurement (also printed in the report)."""
    return [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        f"{timeout}s",
        "--latency",
        url,
    ]


def run(argv: list[str], duration: int) -> str:
    """Run wrk and return its stdout; wrk stops by itself after `duration` seconds."""
    try:
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=duration + 60, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise BenchError(f"wrk did not finish: {' '.join(argv)}") from error
    if result.returncode != 0:
        raise BenchError(f"wrk failed ({result.returncode}): {result.stderr or result.stdout}")
    return result.stdout


def measure(url: str, pgid: int, options: argparse.Namespace) -> dict[str, Any]:
    """Warm up, let the backlog drain, check the machine is quiet, then load `url` with wrk.

    `pgid` is the server's process group (not counted as background load);
    `options` carries threads, connections, duration, warmup and timeout.
    Returns the wrk command, its parsed and raw output, the error count and
    the background CPU share.
    """
    o = options
    if o.warmup:
        warm = command(url, o.threads, o.connections, o.warmup, o.timeout)
        print(f"  warm-up {o.warmup}s ...", flush=True)
        run(warm, o.warmup)
    wait_until_idle(pgid)
    background = cpu_busy_share(exclude_pgid=pgid)
    if background > BUSY_WARNING:
        print(
            f"  WARNING: the machine is {background:.0%} busy with other work "
            "before the load; results will be noisy",
            flush=True,
        )
    argv = command(url, o.threads, o.connections, o.duration, o.timeout)
    print(f"  measuring: {shlex.join(argv)}", flush=True)
    output = run(argv, o.duration)
    stats = parse(output)
    errors = sum(stats["socket_errors"].values()) + stats["non_2xx"]
    if errors:
        print(f"  WARNING: {errors} errors/non-2xx answers; see the raw wrk output", flush=True)
    return {
        "wrk_command": shlex.join(argv),
        "wrk": stats,
        "wrk_output": output,
        "errors": errors,
        "background_cpu_busy": round(background, 3),
    }


def _ms(value: str) -> float:
    """Convert a wrk duration such as '12.34ms' to milliseconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", value)
    if not match:
        raise BenchError(f"cannot parse wrk duration {value!r}")
    return float(match.group(1)) * _TIME_UNITS_MS[match.group(2)]


def _bytes(value: str) -> float:
    """Convert a wrk size such as '1.50MB' (binary units) to bytes."""
    match = re.fullmatch(r"([\d.]+)([KMGT]?B)", value)
    if not match:
        raise BenchError(f"cannot parse wrk size {value!r}")
    return float(match.group(1)) * _SIZE_UNITS[match.group(2)]


def parse(output: str) -> dict[str, Any]:
    """Extract throughput, latency percentiles, transfer rate and errors from wrk output.

    Errors and non-2xx answers are kept: a server that fails fast would
    otherwise look fast.
    """

    def find(pattern: str) -> re.Match[str]:
        match = re.search(pattern, output, re.MULTILINE)
        if not match:
            raise BenchError(f"unexpected wrk output, no match for {pattern!r}:\n{output}")
        return match

    result: dict[str, Any] = {
        "requests_per_sec": float(find(r"^Requests/sec:\s+([\d.]+)").group(1)),
        "transfer_per_sec_bytes": _bytes(find(r"^Transfer/sec:\s+(\S+)").group(1)),
        "requests": int(find(r"^\s+(\d+) requests in").group(1)),
    }
    for pct in ("50", "75", "90", "99"):
        result[f"latency_p{pct}_ms"] = _ms(find(rf"^\s+{pct}%\s+(\S+)").group(1))
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    result["socket_errors"] = (
        dict(zip(("connect", "read", "write", "timeout"), map(int, errors.groups()), strict=True))
        if errors
        else {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    result["non_2xx"] = int(non_2xx.group(1)) if non_2xx else 0
    return result
