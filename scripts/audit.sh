#!/usr/bin/env bash
# The dependency audit of `make lint`: pip-audit over the installed dependencies (the project
# itself, installed editable, left out), against PyPI's advisory data. --strict: a package it
# could not look up fails the run rather than passing unaudited.
#
# pip-audit reports a package PyPI's per-release JSON does not answer for as "not found on
# PyPI", which reads like a typo in the dependencies when the real cause is a machine that cannot
# reach that data (offline, or behind a registry proxy serving only what pip installs). So the
# advisory data is probed first, with one release we know is published, and its absence is said
# as such.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
probe=$("$BIN/python" - <<'PY'
import urllib.request
from importlib.metadata import version

url = f"https://pypi.org/pypi/django/{version('django')}/json"
try:
    with urllib.request.urlopen(url, timeout=15) as answer:
        print("ok" if b'"vulnerabilities"' in answer.read() else f"{url} has no advisory data")
except Exception as error:
    print(f"{url}: {error}")
PY
)
if [ "$probe" != ok ]; then
  echo "pip-audit: PyPI's advisory data is out of reach from this machine ($probe)." >&2
  echo "The dependency audit did not run. Run 'make lint' where pypi.org answers, or" >&2
  echo "'make lint PIP_AUDIT=true' to leave the audit out knowingly." >&2
  exit 1
fi
exec "$BIN/pip-audit" --skip-editable --strict --progress-spinner off
