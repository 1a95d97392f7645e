"""The addresses readers post from, as a reverse proxy in front of the server forwards them.

Comments in the benchmarks come from many readers, not all from 127.0.0.1:
both servers keep per-reader history (Townhall's moderation pipeline holds
"the same text again from the same client"; Isso's guard limits comments per
address per minute and top-level comments per address per thread), which a
benchmark that posts everything from one address would turn into refusals or
into an ever longer history scan that no real site has. So each post carries
`X-Forwarded-For: <reader>`, and both servers are told to believe it from
127.0.0.1, as a site behind nginx would configure them
(`TOWNHALL_TRUSTED_PROXIES`, Isso's `[server] trusted-proxies`).
"""

from __future__ import annotations

PROXY = "127.0.0.1"  # where the benchmark's requests come from: the "reverse proxy"
READERS = 1 << 16  # distinct readers reader_address can name


def reader_address(number: int) -> str:
    """The IPv4 address of reader `number` (0 <= number < READERS).

    Each reader gets its own /24 (10.x.y.1), because Isso anonymizes an
    address to its /24 before it compares or stores it.
    """
    if not 0 <= number < READERS:
        raise ValueError(f"reader number {number} is not in 0..{READERS - 1}")
    return f"10.{number >> 8}.{number & 255}.1"
