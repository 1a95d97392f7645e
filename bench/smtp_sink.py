"""The SMTP sink of the notifications benchmark: accepts every message, keeps who it was for.

bench/notifications.py runs it in its own process with the project's
virtualenv, where aiosmtpd is installed (`.venv/bin/python -P
bench/smtp_sink.py PORT`). aiosmtpd's `Controller` serves SMTP on
127.0.0.1:PORT from a thread; the handler answers 250 to each DATA and
records the time it arrived (`time.time()`, the clock of the database's
timestamps) and its envelope recipients, nothing else, except the first
message's bytes (a sample, which the harness replays to measure the sink's own
pace). The main thread answers the harness, one JSON line per command read
from standard input:

  count    messages received so far, and distinct recipients among them
  reset    forget them all
  dump     every message's arrival time and recipients
  sample   the first message received (its envelope sender and its bytes, base64)

It prints `{"ready": PORT}` once it accepts connections, and exits at the end
of its input.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
import time
from typing import Any

from aiosmtpd.controller import Controller


class Recorder:
    """aiosmtpd handler: count and timestamp every message; keep the first one whole."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: list[float] = []
        self.recipients: list[list[str]] = []
        self.distinct: set[str] = set()
        self.sample: dict[str, str] | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        arrived = time.time()
        with self.lock:
            self.times.append(arrived)
            self.recipients.append(list(envelope.rcpt_tos))
            self.distinct.update(envelope.rcpt_tos)
            if self.sample is None:
                self.sample = {
                    "mail_from": envelope.mail_from,
                    "content": base64.b64encode(envelope.original_content).decode(),
                }
        return "250 Message accepted"

    def answer(self, command: str) -> dict[str, Any]:
        with self.lock:
            if command == "count":
                return {"count": len(self.times), "distinct": len(self.distinct)}
            if command == "reset":
                self.times, self.recipients, self.distinct, self.sample = [], [], set(), None
                return {"count": 0, "distinct": 0}
            if command == "dump":
                return {"times": self.times, "recipients": self.recipients}
            if command == "sample":
                return {"sample": self.sample}
        return {"error": f"unknown command {command!r}"}


def main(port: int) -> int:
    recorder = Recorder()
    controller = Controller(
        recorder, hostname="127.0.0.1", port=port, server_hostname="bench-sink", ready_timeout=10
    )
    controller.start()
    try:
        print(json.dumps({"ready": port}), flush=True)
        for line in sys.stdin:
            if line.strip():
                print(json.dumps(recorder.answer(line.strip())), flush=True)
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
