# crossline — two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev
# The report's browser test drives Debian's Chromium (Playwright's own browser
# download is not used: nothing is fetched at test time).
CHROMIUM := /usr/bin/chromium

.PHONY: demo test lint typecheck unit bench model clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,train]'
	touch $@ $(STAMP_RUN)

$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "the browser test needs Chromium at $(CHROMIUM)"; exit 1; }
	apt-get update -qq && apt-get install -y -qq chromium

demo: $(STAMP_RUN)
	$(BIN)/crossline demo

lint: $(STAMP_DEV)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP_DEV)
	$(BIN)/mypy

unit: $(STAMP_DEV) $(CHROMIUM)
	$(BIN)/pytest -n 2 --dist loadgroup

test: lint typecheck unit

bench: $(STAMP_DEV)
	$(BIN)/python benchmarks/eod.py --loans 100000 --database sqlite:///benchmarks-eod.db --partitions 8

# Rebuild the shipped default scorecard from the synthetic history (deterministic:
# the same command reproduces the committed file byte for byte).
model: $(STAMP_DEV)
	$(BIN)/crossline model train --synthetic --out build/model
	cp build/model/scorecard.json src/crossline/scoring/default_scorecard.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
