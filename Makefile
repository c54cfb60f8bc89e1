# Two commands on a fresh machine:
#   make plan   - install into .venv and plan the bundled reference scenario into output/reference/
#   make test   - install into .venv (with dev tools) and run lint, types and the whole test suite (slow tests too)
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: plan test lint install install-dev bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"

plan: install
	$(BIN)/planner plan --force

lint: install-dev
	$(BIN)/ruff check planner tests benchmarks leases
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -m "slow or not slow" --durations=25

bench: install-dev
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info
