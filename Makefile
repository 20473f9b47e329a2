# The two commands of README.md. Each creates .venv if needed, installs from the pinned
# constraints, and runs; re-running skips the install unless pyproject.toml or the pins changed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install -qq --disable-pip-version-check --progress-bar off \
          -c requirements/constraints.txt

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: $(BIN)/python pyproject.toml requirements/constraints.txt
	$(PIP) -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(PIP) -e '.[dev]'
	touch $@

## demo: run the demo campaign (SnAr in flow, simulated lab, offline co-scientist) and report it
demo: $(VENV)/.runtime
	$(BIN)/cfl run examples/snar/campaign.yaml --report
	$(BIN)/python -m benchmarks.demo_check

## test: lint, type-check and run the whole test suite
test: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .cfl reports .pytest_cache .mypy_cache .ruff_cache
