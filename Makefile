# fnpack developer commands. Fresh machine: `make demo`, `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: test lint format demo bench soak clean venv system-deps

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

# Debian packages some tests need (dockerd for image builds). Best effort: a test whose
# component cannot start skips with the reason printed.
system-deps:
	@bash scripts/system-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: $(STAMP) system-deps lint
	$(BIN)/python -m pytest -n auto $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

# every bench script, then one table (also in README.md), JSON + a PNG plot in bench/results/
bench: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	$(BIN)/python bench/all.py

# not in `make test`: 10 minutes of load on 2 workers; each worker's and the trigger's RSS within +10% (SOAK_ARGS="--minutes 2")
soak: $(STAMP)
	$(BIN)/python scripts/soak.py $(SOAK_ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
