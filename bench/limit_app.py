"""The limit of the thread read: Granian serving fixed bytes from memory, run in Townhall's venv.

bench/limit_peer.py runs this file with the project's Python, twice:

  options --workers N     (with Townhall's environment) runs `townhall serve
                          --workers N` as far as the `Granian(...)` call, and
                          prints the options it passes, as JSON, instead of
                          serving: so the limit gets exactly the options of
                          `townhall serve`, whatever they become
  serve --response DIR --options JSON --host H --port P
                          Granian with those options, serving to every HTTP
                          request the status, headers and body of one answer
                          Townhall gave to the thread read in the same run
                          (`DIR/body`, `DIR/headers.json`, written by the
                          peer), held in memory as bytes

The app is the least any Python application behind the same ASGI server can
do for that answer; whatever Townhall's fast path spends beyond it is its own
cost (parsing the query, finding the thread's version and page, building the
headers). The serving process does not import Django.
"""

from __future__ import annotations

import argparse
import enum
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

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


# Granian's own arguments, set by this script rather than taken from `townhall serve`.
OWN = {"target", "address", "port", "working_dir"}


def serve_options(workers: int) -> dict[str, Any]:
    """The keyword arguments `townhall serve --workers N` gives Granian (enums as
    [module, class, value]), without serving: Granian is replaced by a recorder."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "townhall.config.settings")
    import django
    import granian
    from django.core.management import call_command

    django.setup()
    recorded: dict[str, Any] = {}

    class Recorder:
        def __init__(self, target: str, **options: Any) -> None:
            recorded.update(options)

        def serve(self) -> None:
            pass

    granian.Granian = Recorder  # type: ignore[misc, assignment]
    call_command("serve", workers=workers, stdout=sys.stderr, stderr=sys.stderr)

    def encode(value: Any) -> Any:
        if isinstance(value, enum.Enum):
            return [type(value).__module__, type(value).__name__, value.value]
        return value

    return {key: encode(value) for key, value in recorded.items() if key not in OWN}


def decode_options(options: dict[str, Any]) -> dict[str, Any]:
    """The JSON of `serve_options` back into Granian's arguments."""

    def decode(value: Any) -> Any:
        if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
            module, name, raw = value
            return getattr(importlib.import_module(module), name)(raw)
        return value

    return {key: decode(value) for key, value in options.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    options = commands.add_parser("options")
    options.add_argument("--workers", type=int, required=True)
    serve = commands.add_parser("serve")
    serve.add_argument("--response", type=Path, required=True)
    serve.add_argument("--options", type=json.loads, required=True)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    if args.command == "options":
        print(json.dumps(serve_options(args.workers)))
        return
    from granian import Granian

    load_response(args.response)  # fail here, not in the workers, if it is missing
    os.environ[RESPONSE_ENV] = str(args.response.resolve())
    Granian(
        "limit_app:application",
        address=args.host,
        port=args.port,
        working_dir=Path(__file__).resolve().parent,
        **decode_options(args.options),
    ).serve()


if __name__ == "__main__":
    main()
