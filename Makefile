# Two commands for a fresh machine with Python 3.11+: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP_DEMO := $(VENV)/.installed-demo
STAMP_TEST := $(VENV)/.installed-test
DEMO_ARGS ?=

.PHONY: demo test lint typecheck unit bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_DEMO): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[embedded]"
	touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[embedded,test]"
	touch $@ $(STAMP_DEMO)

demo: $(STAMP_DEMO)
	$(BIN)/sre-agent demo --out demo-output $(DEMO_ARGS)

lint: $(STAMP_TEST)
	$(BIN)/ruff check sre_agent tests benchmarks
	$(BIN)/ruff format --check sre_agent tests benchmarks

typecheck: $(STAMP_TEST)
	$(BIN)/mypy

unit: $(STAMP_TEST)
	$(BIN)/python -m pytest tests/unit -q

test: lint typecheck
	$(BIN)/sre-agent validate
	$(BIN)/sre-agent test tests/rules
	$(BIN)/python -m pytest -q

bench: $(STAMP_DEMO)
	$(BIN)/python benchmarks/polling.py --queries 1000000 --days 7

clean:
	rm -rf $(VENV) demo-output .mypy_cache .pytest_cache .ruff_cache
