# Two commands for a fresh machine with Python 3.11+: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP_DEMO := $(VENV)/.installed-demo
STAMP_TEST := $(VENV)/.installed-test
STAMP_DOCS := $(VENV)/.installed-docs
DEMO_ARGS ?=

.PHONY: demo test lint typecheck unit bench clean docs

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
	$(BIN)/ruff check sre_agent tests benchmarks docs/hooks
	$(BIN)/ruff format --check sre_agent tests benchmarks docs/hooks

typecheck: $(STAMP_TEST)
	$(BIN)/mypy

unit: $(STAMP_TEST)
	$(BIN)/python -m pytest tests/unit -q

# The shipped rule tests (`sre-agent test tests/rules`) run inside pytest (tests/unit/test_rule_tests.py).
test: lint typecheck
	$(BIN)/sre-agent validate
	$(BIN)/python -m pytest -q -n auto --dist loadfile

$(STAMP_DOCS): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[docs]"
	touch $@ $(STAMP_DEMO)

# The documentation site (mkdocs-material) into site/; the configuration and CLI references are generated from
# the pydantic models and the argparse parser at build time (docs/hooks/). Any warning fails the build.
# NO_MKDOCS_2_WARNING silences mkdocs-material's banner (9.7+: end of life on 2027-05-05, Zensical its successor).
docs: $(STAMP_DOCS)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

bench: $(STAMP_DEMO)
	$(BIN)/python benchmarks/all.py

clean:
	rm -rf $(VENV) demo-output site .mypy_cache .pytest_cache .ruff_cache
