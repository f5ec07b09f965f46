# Chorus: `make run` and `make test` each set up what they need on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run sandbox test test-fast lint format bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Chorus needs Python 3.11 or newer")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,ptb,charts,redis]"
	@touch $(STAMP)

install: $(STAMP)

# No BOT_TOKEN (unset, empty or blank, in the environment or .env): the embedded sandbox. With
# one: the real bot. chorus reads the settings and decides, so both always agree.
run: $(STAMP)
	$(BIN)/chorus run --or-sandbox

sandbox: $(STAMP)
	$(BIN)/chorus sandbox

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint
	$(BIN)/pytest

test-fast: $(STAMP)
	$(BIN)/pytest -x -q

bench: $(STAMP)
	$(BIN)/python -m tests.bench

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
