# Townhall: `make demo` serves the demo site; `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install demo serve test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/townhall migrate --noinput
	$(BIN)/townhall demo --port $(PORT)
	@echo "Townhall demo: http://127.0.0.1:$(PORT)/"
	$(BIN)/townhall serve --host 127.0.0.1 --port $(PORT)

test: install
	./scripts/test.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy townhall

BENCH_ARGS ?=
bench: install
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
