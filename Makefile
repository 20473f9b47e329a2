# The two commands of README.md. Each creates .venv if needed, installs from the pinned
# constraints, and runs; re-running skips the install unless pyproject.toml or the pins changed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install -qq --disable-pip-version-check --progress-bar off \
          -c requirements/constraints.txt

.PHONY: demo test lint bench clean tools

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

## tools: commands the tests use that pip cannot install: openssl (the local RFC 3161 TSA) and
## pdftoppm (proves the disclosure PDF renders). Installed from Debian when run as root with apt;
## otherwise the tests that need them are skipped, saying why.
tools:
	@missing=""; \
	command -v openssl >/dev/null || missing="$$missing openssl"; \
	command -v pdftoppm >/dev/null || missing="$$missing poppler-utils"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing$$missing (Debian)"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq --no-install-recommends $$missing >/dev/null; } \
	    || echo "could not install$$missing: the tests that need them will be skipped"; \
	  else \
	    echo "missing$$missing: the tests that need them will be skipped (apt-get install$$missing)"; \
	  fi; \
	fi

## test: lint, type-check and run the whole test suite, a file per worker on two workers
## (pytest-xdist; each worker starts its own session servers)
test: $(VENV)/.dev tools
	$(BIN)/ruff check .
	$(BIN)/mypy
	@$(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=15; status=$$?; \
	if [ $$status -eq 5 ]; then \
	  echo "pytest collected no tests (exit 5): is tests/ missing from this checkout?" >&2; \
	fi; \
	exit $$status

## bench: the full planner benchmark (10 seeds, budget 40, every strategy installed here; hours
## on 2 cores, resumable) and benchmarks/RESULTS.md regenerated from it
bench: $(VENV)/.dev
	$(BIN)/cfl bench run --problems all --strategies all --seeds 10 --budget 40 --batch 1 \
	  --out reports/bench --jobs 2
	$(BIN)/cfl bench report reports/bench --write benchmarks/RESULTS.md

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .cfl reports .pytest_cache .mypy_cache .ruff_cache
