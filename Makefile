# Quick start: `make up` serves the hub on http://127.0.0.1:8000, `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# The suite in a process per core (at most 4), each with its own PostgreSQL and NATS; a test
# module stays in one process (its module-wide hub is started once). PARALLEL= runs it in one.
PARALLEL ?= --numprocesses=auto --maxprocesses=4 --dist=loadfile

.PHONY: up test lint typecheck check bench chaos export clean-data install vendor browser

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

up: $(STAMP)
	$(BIN)/hub up

# The browser tests drive Debian's chromium (tests/browser); as root it is installed with apt
# when missing, otherwise the target fails with the one command to run. It never skips.
CHROMIUM ?= /usr/bin/chromium

browser:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "chromium is missing; install it with: sudo apt-get install -y chromium" >&2; exit 1; \
	  fi; }

# Refresh the vendored front-end assets (KERN, GraphiQL, axe-core) from the npm registry.
vendor:
	sh gateway/workspace/vendor.sh

test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy contracts services projections gateway hub kernel
	$(BIN)/python -m pytest $(PARALLEL)

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy contracts services projections gateway hub kernel

check: lint typecheck test

bench: $(STAMP)
	$(BIN)/hub bench --arrivals 2000

# the long fault-injection run (tests/chaos; a short one is part of `make test`):
# prints accepted / refused / lost / duplicated per fault; HUB_CHAOS_SEED=n repeats a run
chaos: $(STAMP)
	HUB_CHAOS=long $(BIN)/python -m pytest tests/chaos -s -p no:cacheprovider

export: $(STAMP)
	$(BIN)/hub contracts export exported/contracts

clean-data:
	rm -rf .hub
