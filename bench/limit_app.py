"""The limit of the thread read: Granian serving fixed bytes from memory, run in Townhall's venv.

bench/limit_peer.py starts this file with the project's Python
(`.venv/bin/python bench/limit_app.py --response DIR --host H --port P
--workers 2`). It serves, to every HTTP request, the status, headers and body
of one answer Townhall gave to the thread read in the same benchmark run
(`DIR/body` and `DIR/headers.json`, written by the peer), held in memory as
bytes: the least any Python application behind the same ASGI server can do
for that answer. Granian runs with the options `townhall serve` gives it
(townhall/core/management/commands/serve.py): the ASGI interface without
lifespan events, the same worker count, no WebSockets, no access log,
failed workers respawned. Whatever Townhall's fast path spends beyond this is
its own cost: parsing the query, finding the thread's version and page,
building the headers.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from granian import Granian
from granian.constants import Interfaces

RESPONSE_ENV = "BENCH_LIMIT_RESPONSE"  # the folder with `body` and `headers.json`


def load_response(folder: Path) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """(status, headers, body) as written by bench/limit_peer.py."""
    meta = json.loads((folder / "headers.json").read_text())
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in meta["headers"]]
    return int(meta["status"]), headers, (folder / "body").read_bytes()


class FixedAnswer:
    """An ASGI app answering every HTTP request with the same status, headers and body."""

    def __init__(self, folder: Path) -> None:
        status, headers, body = load_response(folder)
        self.start = {"type": "http.response.start", "status": status, "headers": headers}
        self.body = {"type": "http.response.body", "body": body}

    async def __call__(self, scope: dict, receive: object, send: object) -> None:
        if scope["type"] != "http":
            return
        await send(self.start)  # type: ignore[operator]
        await send(self.body)  # type: ignore[operator]


def _application() -> FixedAnswer | None:
    """The app of each Granian worker: the answer named by BENCH_LIMIT_RESPONSE."""
    folder = os.environ.get(RESPONSE_ENV)
    return FixedAnswer(Path(folder)) if folder else None


application = _application()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--response", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    load_response(args.response)  # fail here, not in the workers, if it is missing
    os.environ[RESPONSE_ENV] = str(args.response.resolve())
    # The options of `townhall serve`; only the target differs.
    Granian(
        "limit_app:application",
        address=args.host,
        port=args.port,
        interface=Interfaces.ASGINL,
        workers=args.workers,
        websockets=False,
        log_level="info",
        log_access=False,
        respawn_failed_workers=True,
        working_dir=Path(__file__).resolve().parent,
    ).serve()


if __name__ == "__main__":
    main()
