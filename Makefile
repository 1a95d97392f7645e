# Townhall: `make demo` serves the demo site; `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install demo serve test browser lint bench soak clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

# The demo's mail goes to files under var/mail/ (no SMTP server needed); the worker that sends it
# runs beside the server and stops with it.
demo: export TOWNHALL_PUBLIC_URL ?= http://127.0.0.1:$(PORT)
demo: install
	$(BIN)/townhall migrate --noinput
	$(BIN)/townhall demo --port $(PORT)
	@echo "Townhall demo: http://127.0.0.1:$(PORT)/ (mail is written to var/mail/)"
	@$(BIN)/townhall worker & worker=$$!; \
	  trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	  $(BIN)/townhall serve --host 127.0.0.1 --port $(PORT)

test: install browser
	./scripts/test.sh

# The browser tests (tests/browser) drive Debian's Chromium through Playwright (Playwright's own
# browser download is not used). Installed once, as root, when /usr/bin/chromium is missing;
# apt-get update runs only when the package lists are missing or too old to install from. The
# DejaVu fonts are the fonts the screenshot baselines (tests/browser/baselines) were made with.
CHROMIUM := /usr/bin/chromium
BROWSER_PACKAGES := chromium fonts-dejavu-core fonts-dejavu-extra
APT_INSTALL := DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends
browser:
	@if [ -x $(CHROMIUM) ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "Chromium is missing: run 'sudo make browser' (browser tests are skipped without it)."; \
	  if [ "$${CI:-}" = true ]; then exit 1; else exit 0; fi; \
	fi; \
	echo "Installing $(BROWSER_PACKAGES) for the browser tests"; \
	{ apt-cache policy chromium 2>/dev/null | grep -q 'Candidate: [0-9]' \
	  && $(APT_INSTALL) $(BROWSER_PACKAGES) >/dev/null 2>&1; } \
	  || { apt-get update -qq && $(APT_INSTALL) $(BROWSER_PACKAGES) >/dev/null; }

# pip-audit (scripts/audit.sh): known vulnerabilities in the installed dependencies, from PyPI's
# advisory data; fails when that data is out of reach. `make lint PIP_AUDIT=true` leaves it out.
PIP_AUDIT ?= ./scripts/audit.sh
lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy townhall
	$(PIP_AUDIT)

BENCH_ARGS ?=
bench: install
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# Soak test (bench/soak.py, docs/reliability.md): SOAK_MINUTES of mixed traffic on the local
# PostgreSQL (its own database townhall_soak, dropped and created again) and Redis (database 9,
# flushed), two `townhall serve` processes and a worker; fails unless every check passes.
# Not part of `make test`. SOAK_ARGS adds options, e.g. SOAK_ARGS='--rate 60'.
SOAK_MINUTES ?= 10
SOAK_ARGS ?=
soak: install
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python bench/soak.py --minutes $(SOAK_MINUTES) $(SOAK_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
